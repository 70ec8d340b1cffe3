"""Prints every source address the answers cite (content/answers.yml, and the clinic pages'
addresses in content/clinic.yml) with its HTTP status, for whoever has network access.

    make linkcheck                                   # or:
    .venv/bin/python -m scripts.linkcheck [--all] [--timeout 20] [--content DIR]

`--all` also checks every address written in content/facts.md. Not part of `make test`: it needs
the network, and a site's answer changes from day to day. Each address is fetched with HEAD, then
with GET when the site refuses HEAD; redirects are followed and the final address is shown.
Exit status 1 when an address answers 400 or more, or not at all (some sites refuse scripts with
403 while a browser gets the page: open those by hand).
"""
import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from clinic.content import CONTENT_DIR, ContentError, load_content, read_fact_urls

USER_AGENT = "Mozilla/5.0 (compatible; clinic-assistant-linkcheck/1.0)"


def cited_urls(directory: Path, include_facts: bool) -> Dict[str, List[str]]:
    """Each address, with where it is cited ("answers.ask_safety", "facts.md"...)."""
    content = load_content(directory)
    cited: Dict[str, List[str]] = {}
    for intent, answer in content.answers.items():
        for source in answer.sources:
            if source.url:
                cited.setdefault(source.url, []).append(f"answers.{intent}")
    for page_id, page in content.clinic.pages.items():
        if page.url:
            cited.setdefault(page.url, []).append(f"clinic.pages.{page_id}")
    if include_facts:
        for url in sorted(read_fact_urls(directory / "facts.md")):
            cited.setdefault(url, []).append("facts.md")
    return cited


def status(url: str, timeout: float) -> Tuple[Optional[int], str]:
    """(HTTP status or None, the final address or the error)."""
    for method in ("HEAD", "GET"):
        request = Request(url, method=method, headers={"User-Agent": USER_AGENT,
                                                       "Accept": "text/html,*/*"})
        try:
            with urlopen(request, timeout=timeout) as response:
                return response.status, response.geturl()
        except HTTPError as error:
            if method == "HEAD" and error.code in (403, 404, 405, 406, 429, 500, 501, 503):
                continue  # many sites answer HEAD differently from GET: ask again with GET
            return error.code, error.reason or ""
        except (URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            if method == "HEAD":
                continue
            return None, str(reason)
    return None, "no answer"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also every address in facts.md")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per request")
    parser.add_argument("--content", type=Path, default=CONTENT_DIR, help="the content folder")
    args = parser.parse_args(argv)
    try:
        cited = cited_urls(args.content, args.all)
    except ContentError as error:
        print(f"Content error: {error}", file=sys.stderr)
        return 2
    urls = sorted(cited)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda url: status(url, args.timeout), urls))
    broken = 0
    for url, (code, detail) in zip(urls, results):
        ok = code is not None and code < 400
        broken += not ok
        shown = str(code) if code is not None else "ERR"
        where = ", ".join(sorted(set(cited[url])))
        note = ""
        if ok and detail and detail.rstrip("/") != url.rstrip("/"):
            note = f"  -> {detail}"
        elif not ok:
            note = f"  ({detail})"
        print(f"{shown:>4}  {url}{note}  [{where}]")
    print(f"{len(urls)} addresses, {len(urls) - broken} answered below 400, {broken} did not")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
