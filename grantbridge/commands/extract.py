"""``grantbridge extract``: any SQL Server source → ``snapshot.json``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grantbridge import ui
from grantbridge.commands import flowing
from grantbridge.errors import InputError
from grantbridge.output import write_file_atomic
from grantbridge.plural import plural
from mssql_extract.snapshot import SecuritySnapshot

if TYPE_CHECKING:
    from mssql_extract.tsql.publish_profile import PublishProfile


def register(app: typer.Typer) -> None:
    app.command("extract", help=flowing(extract.__doc__))(extract)


def _parse_vars(values: list[str]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError(f"--var takes NAME=VALUE, not {item!r}")
        variables[name] = value
    return variables


def extract(
    script: Annotated[
        list[Path] | None,
        typer.Option(
            "--script",
            "-s",
            help="T-SQL script file or folder (read recursively); '-' reads standard input. Repeatable.",
        ),
    ] = None,
    catalog_json: Annotated[
        Path | None,
        typer.Option(
            help="JSON produced by the extraction script (see --print-query), or a folder of "
            "the same rows captured query by query (server/<query>.json, <database>/<query>.json)."
        ),
    ] = None,
    dacpac: Annotated[
        list[Path] | None,
        typer.Option(
            help="An SSDT .dacpac file. Repeatable: one per database, combined with each other "
            "and with --script or --catalog-json (e.g. the logins script) into one snapshot."
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(help="ODBC connection string or DSN name of a live SQL Server (read-only)."),
    ] = None,
    databases: Annotated[
        list[str] | None,
        typer.Option(
            "--database",
            "-d",
            help="Live mode: only these databases (repeatable). Scripts: the database of "
            "statements outside any USE (one; without it they run in master, where database "
            "statements are refused).",
        ),
    ] = None,
    trust_server_certificate: Annotated[
        bool, typer.Option(help="Live mode: accept the server's certificate without validation.")
    ] = False,
    print_query: Annotated[
        bool,
        typer.Option(help="Print the T-SQL extraction script for a DBA to run, and exit."),
    ] = False,
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            help="sqlcmd variable NAME=VALUE for $(NAME) in scripts; wins over :setvar, a "
            "publish profile and a .sqlproj's default. Repeatable.",
        ),
    ] = None,
    publish_profile: Annotated[
        list[Path] | None,
        typer.Option(
            "--publish-profile",
            help="Scripts: the SSDT publish profile (*.publish.xml) a deployment used: its "
            "SQLCMD variable values (over a .sqlproj's defaults; --var and :setvar win) and "
            "its TargetDatabaseName (--database wins). Nothing else of it is read.",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            help="Scripts without a byte-order mark are in this encoding (default UTF-8; an "
            "ANSI script from SSMS: cp1252)."
        ),
    ] = None,
    include_definitions: Annotated[
        bool,
        typer.Option(help="Keep module bodies (procedures, functions, views) in the snapshot."),
    ] = False,
    lenient: Annotated[
        bool,
        typer.Option(help="Record malformed statements as skipped instead of failing."),
    ] = False,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the snapshot JSON.")
    ] = Path("snapshot.json"),
) -> None:
    """Read SQL Server security from scripts, catalog rows, dacpacs or a live server into one
    snapshot (several dacpacs, scripts and catalog rows are combined)."""
    if print_query:
        from mssql_extract.extraction_script import extraction_script

        typer.echo(extraction_script(include_definitions=include_definitions), nl=False)
        return
    if not (script or catalog_json or dacpac or server):
        raise InputError("give a source: --script, --catalog-json, --dacpac or --server")
    if server and (script or catalog_json or dacpac):
        raise InputError("--server reads the whole server: give it without other sources")
    if encoding is not None and not script:
        raise InputError("--encoding applies to --script only")
    profile = _profile(publish_profile, script)
    variables = _parse_vars(var or [])
    if script:
        database = _script_database(databases, profile)
        databases = [database] if database is not None else None
        _say_profile(profile, variables, script)
    if server:
        from mssql_extract.live import extract_live

        snapshot = extract_live(
            server,
            databases=databases or None,
            trust_server_certificate=trust_server_certificate,
            include_definitions=include_definitions,
        )
    else:
        from mssql_extract.combine import combine

        parts = _read_files(
            script,
            catalog_json,
            dacpac or [],
            databases,
            variables,
            encoding,
            include_definitions,
            lenient,
            profile,
        )
        snapshot = combine(parts)
        _warn_gaps(snapshot, {e.source_ref.origin for p in parts if p.source == "dacpac"
                              for e in p.skipped})  # fmt: skip
    write_file_atomic(output, snapshot.json_chunks())
    _summary(snapshot, output)


def _read_files(
    script: list[Path] | None,
    catalog_json: Path | None,
    dacpacs: list[Path],
    databases: list[str] | None,
    variables: dict[str, str],
    encoding: str | None,
    include_definitions: bool,
    lenient: bool,
    profile: PublishProfile | None,
) -> list[SecuritySnapshot]:
    """One snapshot per source, in the order scripts, catalog rows, dacpacs (as given)."""
    parts = []
    if script:
        from mssql_extract.tsql import extract_scripts

        with ui.progress("extract", echo=False) as step:
            parts.append(
                extract_scripts(
                    script,
                    database=databases[0] if databases else None,
                    encoding=encoding,
                    variables=variables,
                    include_definitions=include_definitions,
                    lenient=lenient,
                    on_file=step,
                    on_defaults=_say_defaults,
                    profile=profile,
                    on_undeclared=_say_undeclared,
                )
            )
    if catalog_json:
        from mssql_extract.catalog_document import extract_catalog_json

        parts.append(extract_catalog_json(catalog_json))
    if dacpacs:
        from mssql_extract.dacpac import extract_dacpac

        parts += [extract_dacpac(path) for path in dacpacs]
    return parts


def _warn_gaps(snapshot: SecuritySnapshot, dacpacs: set[str]) -> None:
    """What the dacpacs lack (permission statements, logins no source holds, …): a finding of
    the plan too, but said now, while the dacpac can still be extracted again. ``dacpacs``: the
    origins of the dacpacs' skipped entries, looked up after combining, which may have found
    the logins a dacpac lacked."""
    for skipped in snapshot.skipped:
        if skipped.source_ref.origin in dacpacs:
            detail = f": {skipped.text}" if skipped.text else ""
            ui.say(f"warning: {skipped.source_ref}: {skipped.reason}{detail}", err=True)


def _say_defaults(project: str, names: tuple[str, ...]) -> None:
    """Which SQLCMD variables take a SQL project's default (names only: a value may be a
    password)."""
    listed = ", ".join(f"$({name})" for name in names)
    ui.say(f"{project}: default values of {listed} (--var NAME=VALUE sets another)", err=True)


def _say_undeclared(profile: str, names: tuple[str, ...]) -> None:
    """A profile's variables no project declares: used all the same, as SqlPackage does (it
    warns "The following SqlCmd variables are not defined in the target scripts")."""
    listed = ", ".join(f"$({name})" for name in names)
    ui.say(
        f"warning: {profile} sets {listed}, which no SQL project (.sqlproj) read declares; "
        "used all the same, as SqlPackage does",
        err=True,
    )


def _profile(given: list[Path] | None, script: list[Path] | None) -> PublishProfile | None:
    """The one publish profile given. Several are refused: a profile is one project's
    deployment, and its database and values would apply to every script read, as --database
    and --var do, so a second one could only contradict the first."""
    if not given:
        return None
    if not script:
        raise InputError("--publish-profile applies to --script only")
    if len(given) > 1:
        raise InputError(
            "give one --publish-profile: its variables and database apply to every script "
            "read; extract each SQL project with its own profile, or pass values with --var"
        )
    from mssql_extract.tsql.publish_profile import read_profile

    return read_profile(given[0], given[0].as_posix())


def _say_profile(
    profile: PublishProfile | None, variables: dict[str, str], script: list[Path]
) -> None:
    """Name the profile's variables in use (never their values), or, without a profile, the
    profiles the folders hold: none is picked (a Dev and a Prod profile differ)."""
    if profile is None:
        from mssql_extract.tsql.publish_profile import find_profiles

        found = [p.as_posix() for folder in script for p in find_profiles(folder)]
        if found:
            ui.say(
                f"note: publish profiles found and not read: {', '.join(found)}; pass the one "
                "the deployment used with --publish-profile FILE",
                err=True,
            )
        return
    given = {name.casefold() for name in variables}
    used = sorted(n for n in profile.values if n.casefold() not in given)
    if used:
        listed = ", ".join(f"$({name})" for name in used)
        ui.say(f"{profile.origin}: values of {listed} (--var NAME=VALUE sets another)", err=True)


def _script_database(databases: list[str] | None, profile: PublishProfile | None) -> str | None:
    """``--database`` with scripts: where statements outside any USE go (one database), else
    the publish profile's TargetDatabaseName. The command line wins, as SqlPackage's
    /TargetDatabaseName: wins over the profile's; the profile's name is not printed."""
    if databases and len(databases) > 1:
        raise InputError(
            "with --script, --database names one database: where statements outside any USE go"
        )
    chosen = databases[0] if databases else None
    if profile is None or profile.database is None:
        return chosen
    if chosen is not None and chosen.casefold() != profile.database.casefold():
        ui.say(
            f"note: --database {chosen} wins over the TargetDatabaseName of {profile.origin}",
            err=True,
        )
    return chosen or profile.database


def _summary(snapshot: SecuritySnapshot, output: Path) -> None:
    perms = len(snapshot.server_permissions) + sum(len(d.permissions) for d in snapshot.databases)
    users = sum(len(d.users) for d in snapshot.databases)
    skipped = len(snapshot.skipped)
    counts = {"logins": len(snapshot.logins), "databases": len(snapshot.databases)}
    counts |= {"users": users, "permissions": perms, "skipped": skipped}
    ui.result(
        f"Wrote {output}: {plural(counts['logins'], 'login')}, "
        f"{plural(counts['databases'], 'database')}, {plural(users, 'user')}, "
        f"{plural(perms, 'permission')}, {skipped} skipped.",
        {"output": str(output), **counts},
    )
