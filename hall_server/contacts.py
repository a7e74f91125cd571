"""Whom the site calls: its district office (区县定考办), the city office (市定考办) and the
system hotline (系统客服), from the shipped list contracts/data/district_offices.csv
(000_…txt 附件6). One definition for the console's header and the printed guides."""
from __future__ import annotations

from dataclasses import dataclass

CITY, HOTLINE = "市定考办", "系统客服"


@dataclass(frozen=True)
class Contact:
    label: str                 # "渝中区定考办", "市定考办", "系统客服"
    phones: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.label}：{'、'.join(self.phones)}"


@dataclass(frozen=True)
class SiteContacts:
    office: Contact | None     # the office the site reports to (None: district not in the list)
    city: Contact | None
    hotline: Contact | None

    def lines(self) -> list[Contact]:
        """The office first, then the city (unless it is the office) and the hotline."""
        out = [self.office] if self.office else []
        if self.city and (self.office is None or self.office.label != self.city.label):
            out.append(self.city)
        if self.hotline:
            out.append(self.hotline)
        return out

    def text(self, sep: str = "；") -> str:
        return sep.join(c.text for c in self.lines())


def for_district(district: str) -> SiteContacts:
    from contracts.offices import load_offices, office_by_name, office_for_district

    offices = load_offices()
    o = office_for_district(district or "", offices)
    city, hotline = office_by_name(CITY, offices), office_by_name(HOTLINE, offices)
    office = None
    if o is not None:
        office = Contact(CITY if o.name == CITY else f"{o.name}定考办", o.phones)
    return SiteContacts(office, Contact(CITY, city.phones) if city else None,
                        Contact(HOTLINE, hotline.phones) if hotline else None)
