"""web/serve.py: the demo page says what clinic.yml says (name, phone, area, services, the
consultation free or not, address and hours when set), everything escaped, with no inline
script. Rendered here directly; tests/browser loads it in Chromium."""
import html
import re
import shutil

import pytest
import yaml

from tests.clinic_facts import CLINIC
from web.serve import WEB, render_page

TEMPLATE = (WEB / "index.html").read_text(encoding="utf-8")
RASA = "http://localhost:5005"
FREE = re.compile(r"\bfree\b", re.I)


def services(page):
    found = re.search(r'<ul class="services">(.*?)</ul>', page, re.S)
    return re.findall(r"<li>([^<]*)</li>", found[1]) if found else []


def clinic_folder(tmp_path, **changes):
    """A copy of the content folder in use with `changes` made to its clinic.yml."""
    folder = shutil.copytree(CLINIC.folder, tmp_path / "content")
    path = folder / "clinic.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["clinic"].update(changes)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return folder


def test_the_page_shows_the_clinic_in_use():
    page = render_page(TEMPLATE, RASA)
    name = html.escape(CLINIC.name)
    assert f'<p class="brand">{name}</p>' in page and f'data-clinic-name="{name}"' in page
    assert f'<a class="phone" href="{CLINIC.tel}">Call {html.escape(CLINIC.phone)}</a>' in page
    assert f"If you're from the {html.escape(CLINIC.area)}, call {name}" in page
    assert [s.lower() for s in services(page)] == [html.escape(s).lower() for s in CLINIC.services]
    assert f"to schedule your {CLINIC.initial_consultation}." in page
    assert bool(FREE.search(page)) is CLINIC.free_initial_consultation
    for label, value in (("Address", CLINIC.address), ("Hours", CLINIC.hours)):
        assert (f"<dt>{label}</dt><dd>{html.escape(value)}</dd>" in page) if value else (
            f"<dt>{label}</dt>" not in page)
    assert "{{" not in page and "}}" not in page


@pytest.mark.parametrize("free", [True, False])
def test_the_consultation_is_free_on_the_page_only_if_clinic_yml_says_so(tmp_path, free):
    page = render_page(TEMPLATE, RASA, clinic_folder(tmp_path, free_initial_consultation=free))
    assert bool(FREE.search(page)) is free
    assert ("to schedule your free initial consultation." in page) is free
    assert "to schedule your initial consultation." in page or free


def test_address_and_hours_only_when_set(tmp_path):
    unset = render_page(TEMPLATE, RASA, clinic_folder(tmp_path / "a", address=None, hours=None))
    assert "<dl" not in unset and "For the address and opening hours, call" in unset
    only_hours = render_page(TEMPLATE, RASA, clinic_folder(tmp_path / "b", address=None,
                                                            hours="Mon-Fri 9am-5pm"))
    assert "<dt>Hours</dt><dd>Mon-Fri 9am-5pm</dd>" in only_hours and "Address" not in only_hours


def test_everything_from_clinic_yml_is_escaped(tmp_path):
    hostile = '<script>alert(1)</script> "{{rasa_url}}" & Co'
    page = render_page(TEMPLATE, RASA, clinic_folder(
        tmp_path, name=hostile, area=f"{hostile} area", address=hostile, hours=hostile,
        services=[hostile, "ice & heat"]))
    assert "<script>alert" not in page and 'alert(1)</script> "' not in page
    assert html.escape(hostile) in page
    assert services(page) == [html.escape(hostile), "Ice &amp; heat"]
    assert page.count(RASA) == 1  # a clinic's "{{rasa_url}}" is text, not a placeholder
    # The only scripts: the widget's, from this server, with nothing inline.
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S)
    assert len(scripts) == 1 and 'src="/widget/clinic-chat.js"' in scripts[0][0]
    assert not scripts[0][1].strip() and not re.search(r"\son\w+\s*=", page, re.I)


def test_an_unknown_placeholder_in_the_page_is_an_error():
    with pytest.raises(ValueError, match=r"\{\{phone_number\}\}"):
        render_page(TEMPLATE + "{{phone_number}}", RASA)
