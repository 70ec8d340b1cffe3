"""Masks phone numbers and e-mail addresses in visitor text.

Only the callback queue (and the explicitly requested unmasked callback export) shows a phone
number in full. Masking errs on the side of hiding: any run of seven or more digits counts.
"""
import re
from typing import Optional

MASK = "\u2022"  # a bullet
EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
# Seven or more digits, with the separators people type between them.
PHONE = re.compile(r"\+?\d(?:[\s().-]{0,3}\d){6,}")


def _phone(match: "re.Match") -> str:
    number = match.group(0)
    keep = len(re.sub(r"\D", "", number)) - 2  # digits to hide: all but the last two
    out = []
    for char in number:
        if char.isdigit() and keep > 0:
            out.append(MASK)
            keep -= 1
        else:
            out.append(char)
    return "".join(out)


def _email(match: "re.Match") -> str:
    address = match.group(0)
    tld = address.rsplit(".", 1)[-1]
    return f"{address[0]}{MASK * 3}@{MASK * 3}.{tld}"


def mask(text: Optional[str]) -> Optional[str]:
    if not text:
        return text
    return PHONE.sub(_phone, EMAIL.sub(_email, text))
