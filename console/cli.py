"""`python -m console <command>`: serve, create-user [--admin], set-password, grant-admin,
revoke-admin, index, reindex, resend-notifications, retention."""
import argparse
import getpass
import logging
import os
import sys

from console.db import Databases, tracker_url

COMMANDS = __doc__


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Same password again: ") != first:
        sys.exit("The passwords differ; nothing changed.")
    return first


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m console", description=COMMANDS)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the console (CONSOLE_HOST, CONSOLE_PORT; "
                           "behind a proxy, CONSOLE_TRUSTED_PROXIES)")
    serve.add_argument("--host", default=os.environ.get("CONSOLE_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("CONSOLE_PORT", 8090)))
    for name, text in (("create-user", "add a staff account"), ("set-password", "change one")):
        command = sub.add_parser(name, help=text)
        command.add_argument("username")
        command.add_argument("--password-stdin", action="store_true",
                             help="read the password from the first line of stdin")
        if name == "create-user":
            command.add_argument("--admin", action="store_true",
                                 help="may also read and export the audit log")
    for name, text in (("grant-admin", "let an account read and export the audit log"),
                       ("revoke-admin", "take that away")):
        sub.add_parser(name, help=text).add_argument("username")
    sub.add_parser("index", help="bring the console's summary up to date now")
    sub.add_parser("reindex", help="rebuild the summary from all events (staff marks stay)")
    resend = sub.add_parser("resend-notifications",
                            help="send again the e-mails given up on (state failed)")
    resend.add_argument("--id", type=int, action="append", dest="ids",
                        help="only this notification (repeatable)")
    keep = sub.add_parser("retention", help="delete conversations idle for more than N days")
    keep.add_argument("--days", type=float, required=True)
    keep.add_argument("--dry-run", action="store_true", help="only count them")
    keep.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    if args.command != "serve":  # Sanic configures logging itself
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    from console import auth, indexer, retention  # after parsing: --help stays fast

    if args.command == "serve":
        from console.web import create_app
        secure = os.environ.get("CONSOLE_SECURE_COOKIES") == "1"
        # Sanic configures its own loggers only: the console's go to stderr (console.log).
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logging.getLogger("console").addHandler(handler)
        logging.getLogger("console").setLevel(logging.INFO)
        dbs = Databases()
        try:
            app = create_app(dbs, secure_cookies=secure, port=args.port, watch=True)
        except ValueError as problem:  # CONSOLE_TRUSTED_PROXIES, CONSOLE_IDLE_MINUTES, NOTIFY_*
            sys.exit(f"Cannot start: {problem}.")
        print("Indexing the tracker store ...", flush=True)
        indexer.index_all(dbs, progress=lambda n: print(f"  {n} events", flush=True))
        app.run(host=args.host, port=args.port, access_log=False)
    elif args.command in ("create-user", "set-password"):
        dbs = Databases()
        try:
            if args.command == "create-user":
                auth.create_user(dbs, args.username, _password(args), admin=args.admin)
            else:
                auth.set_password(dbs, args.username, _password(args))
        except auth.AccountError as problem:
            sys.exit(f"Nothing changed: {problem}.")
        from console.queries import log
        admin = args.command == "create-user" and args.admin
        log(dbs, "cli", args.command, args.username + (" (admin)" if admin else ""))
        print(f"Done: {args.username} can log in{' as an admin' if admin else ''}.")
    elif args.command in ("grant-admin", "revoke-admin"):
        dbs = Databases()
        grant = args.command == "grant-admin"
        try:
            changed = auth.set_admin(dbs, args.username, grant)
        except auth.AccountError as problem:
            sys.exit(f"Nothing changed: {problem}.")
        if changed:
            from console.queries import log
            log(dbs, getpass.getuser(), args.command, args.username)
        print(f"Done: {args.username} {'is' if grant else 'is not'} an admin"
              f"{'' if changed else ' (already)'}.")
    elif args.command in ("index", "reindex"):
        dbs = Databases()
        count = indexer.index_all(dbs) if args.command == "index" else indexer.rebuild(dbs)
        print(f"Indexed {count} events.")
    elif args.command == "resend-notifications":
        from console.notify import MailSettings, resend_failed
        from console.queries import log
        # With e-mail off the console would mark them "off" for good: refuse instead.
        try:
            mail = MailSettings.from_env()
        except ValueError as problem:
            sys.exit(f"Nothing changed: {problem}.")
        if mail is None:
            sys.exit("Nothing changed: e-mail is off (NOTIFY_SMTP_HOST is not set); set the "
                     "console's NOTIFY_* settings as for `serve` first.")
        dbs = Databases()
        ids = resend_failed(dbs, args.ids)
        if ids:
            log(dbs, getpass.getuser(), args.command, "#" + ", #".join(map(str, ids)))
        print(f"{len(ids)} failed notifications are due again; the running console sends them.")
    elif args.command == "retention":
        if args.days < 0:
            sys.exit("--days must not be negative")
        dbs = Databases(tracker=tracker_url(read_only=False))
        count = retention.delete_older_than(dbs, args.days, getpass.getuser(), dry_run=True)
        if args.dry_run or count == 0:
            print(f"{count} conversations idle for more than {args.days:g} days.")
            return
        if not args.yes and input(f"Delete {count} conversations from the tracker store? "
                                  "Type yes: ").strip() != "yes":
            sys.exit("Nothing deleted.")
        count = retention.delete_older_than(dbs, args.days, getpass.getuser())
        print(f"Deleted {count} conversations idle for more than {args.days:g} days.")
