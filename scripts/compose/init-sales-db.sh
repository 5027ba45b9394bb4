#!/bin/sh
# Runs once, when the compose stack's Postgres volume is created: the service's own database and
# role, beside the ones Temporal's auto-setup creates for itself.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE sales LOGIN PASSWORD '${SALES_DB_PASSWORD}';
CREATE DATABASE sales OWNER sales;
SQL
