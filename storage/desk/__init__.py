"""What the web desk's Queues and Dashboard screens read: department queues with filters,
keyset pages and counts (``queue``), search (``search``), per-department figures
(``dashboard``). Channel-neutral reads; the caller owns the session and never needs to commit."""
