"""mssql_extract."""
