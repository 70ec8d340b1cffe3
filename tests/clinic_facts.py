"""The clinic the tests expect: its facts read from clinic.yml in the content folder in use
(`CLINIC_CONTENT_DIR`, else content/, the same rule as clinic.content), so that another clinic
passes the tests by editing its content files alone (README, "Add a clinic").

The file is read here with PyYAML directly, not through clinic.content: a test of the loader
then compares what the loader made of clinic.yml with the file itself, not with its own output.

    from tests.clinic_facts import CLINIC       # module level (parametrize, constants)
    def test_x(clinic): ...                     # the same, as a fixture (tests/conftest.py)
"""
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import yaml

from clinic.content import CONTENT_DIR

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONTENT = ROOT / "content"


def _text(value: Any) -> Optional[str]:
    """As the loader reads a text value: runs of white space become one space."""
    return None if value is None else " ".join(str(value).split())


@dataclass(frozen=True)
class ClinicFacts:
    folder: Path  # the content folder clinic.yml was read from
    name: str
    phone: str  # as written in clinic.yml, as the answers show it: "(314) 731-4201"
    area: str
    services: Tuple[str, ...]
    free_initial_consultation: bool
    address: Optional[str]
    hours: Optional[str]
    page_titles: Dict[str, str]  # clinic_page id -> title

    @property
    def digits(self) -> str:
        """The ten digits of the phone number: "3147314201"."""
        return re.sub(r"\D", "", self.phone)[-10:]

    @property
    def tel(self) -> str:
        """The tel: address the phone buttons and links use: "tel:+13147314201"."""
        return f"tel:+1{self.digits}"

    @property
    def phone_button(self) -> Dict[str, str]:
        return {"title": f"Call {self.phone}", "type": "web_url", "url": self.tel}

    @property
    def initial_consultation(self) -> str:
        """What the answers call the first visit: "free initial consultation" only when
        clinic.yml says it is free (content/answers.yml, {initial_consultation})."""
        return ("free " if self.free_initial_consultation else "") + "initial consultation"

    def identifiers(self) -> Tuple[str, ...]:
        """What identifies this clinic in a reply: its name, and its number written either way."""
        return (self.name, self.phone, self.digits, f"{self.digits[3:6]}-{self.digits[6:]}")


def read_clinic(folder: Path = CONTENT_DIR) -> ClinicFacts:
    raw = yaml.safe_load((Path(folder) / "clinic.yml").read_text(encoding="utf-8"))["clinic"]
    return ClinicFacts(
        folder=Path(folder),
        name=_text(raw["name"]),
        phone=_text(raw["phone"]),
        area=_text(raw["area"]),
        services=tuple(_text(s) for s in raw.get("services") or ()),
        free_initial_consultation=raw.get("free_initial_consultation") is True,
        address=_text(raw.get("address")),
        hours=_text(raw.get("hours")),
        page_titles={page["id"]: _text(page["title"]) for page in raw.get("pages") or ()},
    )


CLINIC = read_clinic()
# The repository's own clinic (content/), whatever CLINIC_CONTENT_DIR says: another clinic's
# replies must never name it (tests/test_another_clinic.py).
DEFAULT_CLINIC = read_clinic(DEFAULT_CONTENT)
