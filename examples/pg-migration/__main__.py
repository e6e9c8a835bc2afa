"""A PostgreSQL database migration as Pulumi resources, through a dynamic provider on
pg8000 (a pure-Python PostgreSQL driver).

Config:
  url      (required, secret) postgres://user:password@host:port/database
  migrate  "true" adds the migration: table `cities`, made from the rows of `people`
           (default "false")

Resources:
  Table "people"      CREATE TABLE people (...) and its rows; deleting it drops the table
  Derived "cities"    CREATE TABLE cities AS SELECT city, count(*) ... FROM people;
                      deleting it drops the table (it is deleted before `people`)
"""

from urllib.parse import unquote, urlsplit

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult


def connect(url):
    """A pg8000 connection from a postgres:// URL (its password never leaves this process)."""
    import pg8000.native

    u = urlsplit(url)
    return pg8000.native.Connection(
        user=unquote(u.username or ""),
        password=unquote(u.password or ""),
        host=u.hostname or "localhost",
        port=u.port or 5432,
        database=unquote(u.path.lstrip("/")) or None,
    )


def plain(v):
    """A value as the program gave it: numbers cross the engine as floats."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def in_transaction(con, work):
    """Runs `work(con)` in one transaction: a failure leaves the database as it was."""
    con.run("START TRANSACTION")
    try:
        result = work(con)
    except BaseException:
        con.run("ROLLBACK")
        raise
    con.run("COMMIT")
    return result


def ident(name):
    import pg8000.native

    return pg8000.native.identifier(name)


class TableProvider(ResourceProvider):
    """A table (`name`, `columns` as SQL) holding exactly the rows given (`rows`)."""

    def create(self, props):
        def work(con):
            con.run(f"CREATE TABLE {ident(props['name'])} ({props['columns']})")
            self._fill(con, props)

        con = connect(props["url"])
        try:
            in_transaction(con, work)
        finally:
            con.close()
        return CreateResult(id_=props["name"], outs={**props, "rowCount": len(props["rows"])})

    def diff(self, _id, olds, news):
        replaces = [k for k in ("name", "columns") if olds.get(k) != news.get(k)]
        changes = replaces + [k for k in ("rows", "url") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changes), replaces=replaces, delete_before_replace=True)

    def update(self, _id, _olds, news):
        def work(con):
            con.run(f"DELETE FROM {ident(news['name'])}")
            self._fill(con, news)

        con = connect(news["url"])
        try:
            in_transaction(con, work)
        finally:
            con.close()
        return UpdateResult(outs={**news, "rowCount": len(news["rows"])})

    def delete(self, _id, props):
        con = connect(props["url"])
        try:
            con.run(f"DROP TABLE IF EXISTS {ident(props['name'])}")
        finally:
            con.close()

    @staticmethod
    def _fill(con, props):
        for row in props["rows"]:
            cols = ", ".join(ident(k) for k in row)
            params = ", ".join(f":p{i}" for i in range(len(row)))
            con.run(
                f"INSERT INTO {ident(props['name'])} ({cols}) VALUES ({params})",
                **{f"p{i}": plain(v) for i, v in enumerate(row.values())},
            )


class DerivedProvider(ResourceProvider):
    """A table made once from a query (`CREATE TABLE name AS query`): the migration."""

    def create(self, props):
        def work(con):
            con.run(f"CREATE TABLE {ident(props['name'])} AS {props['query']}")
            return con.run(f"SELECT count(*) FROM {ident(props['name'])}")[0][0]

        con = connect(props["url"])
        try:
            count = in_transaction(con, work)
        finally:
            con.close()
        return CreateResult(id_=props["name"], outs={**props, "rowCount": count})

    def diff(self, _id, olds, news):
        replaces = [k for k in ("name", "query", "source") if olds.get(k) != news.get(k)]
        changes = replaces + (["url"] if olds.get("url") != news.get("url") else [])
        return DiffResult(changes=bool(changes), replaces=replaces, delete_before_replace=True)

    def update(self, _id, _olds, news):
        return UpdateResult(outs={**news})

    def delete(self, _id, props):
        con = connect(props["url"])
        try:
            con.run(f"DROP TABLE IF EXISTS {ident(props['name'])}")
        finally:
            con.close()


def secret_url(opts):
    # The URL (with its password) is an input and an output of every resource, kept
    # secret in the state: the providers' delete needs it.
    return pulumi.ResourceOptions.merge(pulumi.ResourceOptions(additional_secret_outputs=["url"]), opts)


class Table(pulumi.dynamic.Resource):
    name: pulumi.Output[str]
    rowCount: pulumi.Output[int]

    def __init__(self, resource_name, url, name, columns, rows, opts=None):
        props = {"url": url, "name": name, "columns": columns, "rows": rows, "rowCount": None}
        super().__init__(TableProvider(), resource_name, props, secret_url(opts))


class Derived(pulumi.dynamic.Resource):
    name: pulumi.Output[str]
    rowCount: pulumi.Output[int]

    def __init__(self, resource_name, url, name, source, query, opts=None):
        props = {"url": url, "name": name, "source": source, "query": query, "rowCount": None}
        super().__init__(DerivedProvider(), resource_name, props, secret_url(opts))


config = pulumi.Config()
url = config.require_secret("url")

people = Table(
    "people",
    url,
    "people",
    "id integer PRIMARY KEY, name text NOT NULL, city text NOT NULL",
    [
        {"id": 1, "name": "Ada", "city": "London"},
        {"id": 2, "name": "Grace", "city": "New York"},
        {"id": 3, "name": "Alan", "city": "London"},
    ],
)
pulumi.export("people", people.name)
pulumi.export("peopleRows", people.rowCount)

if config.get_bool("migrate"):
    cities = Derived(
        "cities",
        url,
        "cities",
        people.name,
        "SELECT city, count(*)::integer AS people FROM people GROUP BY city",
        opts=pulumi.ResourceOptions(depends_on=[people]),
    )
    pulumi.export("cities", cities.name)
    pulumi.export("citiesRows", cities.rowCount)
