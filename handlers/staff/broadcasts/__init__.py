"""The staff core of what goes out to residents: news, polls, and the reports staff read (stats
and exports). Channel-neutral (no messenger SDK): the Telegram composers and any later desk call
these operations, which run in ``handlers.staff.core.StaffCore.call``."""
