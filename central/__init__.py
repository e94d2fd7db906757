"""packstation central: the sync service that stores station events and re-publishes them."""
