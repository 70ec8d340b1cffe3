"""Adding an index to a table that already exists, shared by the tracker store and the console:
both start in several processes at once (replicas), so two may try to make the same index."""
from sqlalchemy import Index, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex


def index_names(engine: Engine, table: str) -> set:
    """The names of a table's indexes. On PostgreSQL read from the catalog: SQLAlchemy 1.4's
    reflection warns about an index on an expression (a trigram index) and leaves it out."""
    if engine.dialect.name != "postgresql":
        return {index["name"] for index in inspect(engine).get_indexes(table)}
    with engine.connect() as db:
        return set(db.exec_driver_sql(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = to_regclass(%(table)s)", {"table": table}).scalars())


def create_index_sql(index: Index, engine: Engine) -> str:
    """CREATE INDEX IF NOT EXISTS ... (SQLite and PostgreSQL both have it; SQLAlchemy 1.4's
    DDL does not say it)."""
    ddl = str(CreateIndex(index).compile(dialect=engine.dialect))
    return ddl.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)


def create_index(engine: Engine, index: Index) -> bool:
    """Makes `index` unless it is there; True when this process's CREATE INDEX IF NOT EXISTS
    went through. That can fail on PostgreSQL when another process makes the index at the
    same moment: then the index is there all the same, and the answer is False."""
    table = index.table.name
    if index.name in index_names(engine, table):
        return False
    try:
        with engine.begin() as db:
            db.exec_driver_sql(create_index_sql(index, engine))
    except DBAPIError:
        if index.name not in index_names(engine, table):
            raise  # not another process that made it first
        return False
    return True
