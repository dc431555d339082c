"""Open311 GeoReport v2 under ``/open311/v2/``: the city's other systems (the contact centre
1520, executors) post service requests that become tickets, and read their status, the
departments' answers and the legal deadlines (README, "Open311")."""
