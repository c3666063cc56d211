//! The server stores (MySQL/MariaDB, PostgreSQL): filled in with their drivers.
