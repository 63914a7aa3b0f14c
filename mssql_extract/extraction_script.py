"""The standalone extraction script: every catalog query wrapped in one T-SQL batch.

``grantbridge extract --print-query`` prints :func:`extraction_script` for a DBA to run in SSMS
or sqlcmd. It runs the very same query text live mode runs (:mod:`mssql_extract.queries`): the
server queries once in ``master``, the database queries in every online database it can enter,
and returns every row as one JSON document that
:func:`mssql_extract.catalog_document.extract_catalog_json` reads. On Azure SQL Database the
queries its views lack are skipped through dynamic SQL, and only the current database is read.
"""

from __future__ import annotations

from mssql_extract.queries import SERVER_QUERIES, Query, database_queries


def _literal(text: str) -> str:
    """A T-SQL N'…' literal."""
    return "N'" + text.replace("'", "''") + "'"


_HEADER = """/*
    grantbridge catalog extraction script (read-only; it changes nothing on the server).

    Run it as a login that can read the catalog of every database (VIEW ANY DEFINITION and
    access to each database, or sysadmin), and save the single JSON cell it returns:

        sqlcmd -S <server> -E -d master -i extract.sql -o result.json -h -1 -y 0 -f 65001

    -y 0 is required: sqlcmd otherwise truncates long cells, and so does the SSMS grid, so do
    not copy the result from SSMS. -f 65001 writes UTF-8 (without it, sqlcmd writes the
    console's code page, which cannot hold every name); -u (UTF-16) is read too.
    Then: grantbridge extract --catalog-json result.json
    Databases that are offline or not accessible are listed with the server's reason.

    On Azure SQL Database (EngineEdition 5) it reads no server-level views and only the
    database it is connected to (sqlcmd -d <database>); grantbridge extract --server reads
    every database of a logical server.
*/
SET NOCOUNT ON;
DECLARE @json nvarchar(max) = N'{';
DECLARE @part nvarchar(max);
DECLARE @db sysname, @sql nvarchar(max), @dbjson nvarchar(max), @error nvarchar(4000);
DECLARE @use nvarchar(300);
DECLARE @azure_db bit = CASE WHEN CAST(SERVERPROPERTY('EngineEdition') AS int) = 5
    THEN 1 ELSE 0 END;
"""


_EXEC = "EXEC sys.sp_executesql @sql, N'@out nvarchar(max) OUTPUT', @out = @part OUTPUT;"


def _server_part(query: Query) -> str:
    add = f"SET @json += N'\"{query.name}\":' + COALESCE(@part, N'[]') + N',';\n"
    if query.on_azure_sql_database:
        return f"SET @part = ({query.sql}\nFOR JSON PATH, INCLUDE_NULL_VALUES);\n{add}"
    # dynamic SQL: a batch naming a view Azure SQL Database lacks would not even compile there
    inner = f"SET @out = ({query.sql}\nFOR JSON PATH, INCLUDE_NULL_VALUES);"
    return (
        f"SET @part = NULL;\nIF @azure_db = 0\nBEGIN\n    SET @sql = {_literal(inner)};\n"
        f"    {_EXEC}\nEND;\n{add}"
    )


def _database_part(query: Query) -> str:
    inner = f"SET @out = ({query.sql}\nFOR JSON PATH, INCLUDE_NULL_VALUES);"
    add = f"SET @dbjson += N',\"{query.name}\":' + COALESCE(@part, N'[]');\n"
    run = f"SET @sql = @use + {_literal(inner)};\n"
    if query.on_azure_sql_database:
        return f"        {run}        {_EXEC}\n        {add}"
    return (
        f"        SET @part = NULL;\n        IF @azure_db = 0\n        BEGIN\n"
        f"            {run}            {_EXEC}\n        END;\n        {add}"
    )


_LOOP_START = """SET @json += N'"database_rows":[';
DECLARE @first bit = 1;
DECLARE dbs CURSOR LOCAL FAST_FORWARD FOR
    SELECT d.name FROM sys.databases AS d WHERE d.state = 0 AND HAS_DBACCESS(d.name) = 1
      AND (@azure_db = 0 OR d.name = DB_NAME())  -- Azure SQL Database: no USE (error 40508)
    ORDER BY d.database_id;
OPEN dbs;
FETCH NEXT FROM dbs INTO @db;
WHILE @@FETCH_STATUS = 0
BEGIN
    SET @dbjson = N'{"name":"' + STRING_ESCAPE(@db, 'json') + N'"';
    SET @use = CASE WHEN @azure_db = 1 THEN N'' ELSE N'USE ' + QUOTENAME(@db) + N'; ' END;
    BEGIN TRY
"""

_LOOP_END = """    END TRY
    BEGIN CATCH
        SET @error = ERROR_MESSAGE();
        SET @dbjson = N'{"name":"' + STRING_ESCAPE(@db, 'json') + N'","error":"'
            + STRING_ESCAPE(@error, 'json') + N'"';
    END CATCH;
    SET @json += CASE WHEN @first = 1 THEN N'' ELSE N',' END + @dbjson + N'}';
    SET @first = 0;
    FETCH NEXT FROM dbs INTO @db;
END;
CLOSE dbs;
DEALLOCATE dbs;
SET @json += N']}';
SELECT @json AS catalog_json;
"""


def extraction_script(*, include_definitions: bool) -> str:
    """The standalone T-SQL script returning every catalog row as one JSON document.

    The document is ``{"<server query>": [rows…], …, "database_rows": [{"name": db,
    "<database query>": [rows…], …} | {"name": db, "error": "…"}]}``;
    :func:`mssql_extract.catalog_document.extract_catalog_json` reads it.
    """
    parts = [_HEADER]
    parts += [_server_part(q) for q in SERVER_QUERIES]
    parts.append(_LOOP_START)
    parts += [_database_part(q) for q in database_queries(include_definitions=include_definitions)]
    parts.append(_LOOP_END)
    return "".join(parts)
