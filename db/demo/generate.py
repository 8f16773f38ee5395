"""The demo's rows, drawn from one seeded random generator.

Everything comes from ``random.Random(seed)`` and fixed dates (the data ends on 2024-12-31), so
every build holds the same rows. Where the generator plants a wart on purpose (a variant spelling,
a sentinel, a number kept as text, an orphan), it notes the value in ``Demo.planted``; the ground
truth is written from those notes, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

SEED = 20241231

DATA_START = date(2016, 1, 1)
DATA_END = date(2024, 12, 31)
DATA_END_AT = datetime(2024, 12, 31, 23, 59)
BILLING_MONTHS = tuple(date(2024, month, 1) for month in range(7, 13))
TICKETS_FROM = date(2023, 1, 1)

# The sentinels real systems use where a value is missing.
NOT_AVAILABLE = "N/A"
NO_END_DATE = date(9999, 12, 31)
UNRESOLVED_HRS = -1

VARIANTS = "case_whitespace_variants"
SENTINEL = "sentinel"
NUMBER_AS_TEXT = "number_as_text"
MIXED_DATES = "date_as_text_mixed_formats"
ORPHAN = "orphaned_foreign_key"
DUPLICATE_KEY = "duplicate_key"

EXAMPLES_PER_STYLE = 3
N_CUSTOMERS = 1100
N_TICKETS = 3000
TAX_RATE = 0.0725


class Product(NamedTuple):
    code: str
    bronze_price: float  # monthly, at the lowest bandwidth
    bandwidths: tuple[tuple[int, int], ...]  # (Mbps, weight)
    two_ended: bool  # runs to a far end (Z-location), unlike internet access
    install_fees: tuple[int, ...]
    weight: int


class Tier(NamedTuple):
    name: str
    price_factor: float
    sla_pct: float
    term_mo: int
    weight: int


# fmt: off
# city, state, CLLI city code, first three digits of its ZIP codes, weight
CITIES = (
    ("Austin", "TX", "AUSTTX", "787", 8),
    ("Dallas", "TX", "DLLSTX", "752", 10),
    ("Houston", "TX", "HSTNTX", "770", 10),
    ("San Antonio", "TX", "SNANTX", "782", 5),
    ("Los Angeles", "CA", "LSANCA", "900", 8),
    ("San Jose", "CA", "SNJSCA", "951", 4),
    ("San Diego", "CA", "SNDGCA", "921", 3),
    ("New York", "NY", "NYCMNY", "100", 8),
    ("Buffalo", "NY", "BFLONY", "142", 2),
    ("Miami", "FL", "MIAMFL", "331", 4),
    ("Orlando", "FL", "ORLDFL", "328", 3),
    ("Chicago", "IL", "CHCGIL", "606", 6),
    ("Atlanta", "GA", "ATLNGA", "303", 5),
    ("Seattle", "WA", "STTLWA", "981", 4),
    ("Denver", "CO", "DNVRCO", "802", 3),
    ("Phoenix", "AZ", "PHNXAZ", "850", 3),
    ("Boston", "MA", "BSTNMA", "021", 3),
    ("Charlotte", "NC", "CHRLNC", "282", 3),
)
STATE_NAMES = {
    "TX": "Texas",
    "CA": "California",
    "NY": "New York",
    "FL": "Florida",
    "IL": "Illinois",
    "GA": "Georgia",
    "WA": "Washington",
    "CO": "Colorado",
    "AZ": "Arizona",
    "MA": "Massachusetts",
    "NC": "North Carolina",
}

NAME_FIRST = (
    "Lone Star", "Gulf Coast", "Pinnacle", "Summit", "Redwood", "Blue Ridge", "Harbor",
    "Frontier", "Keystone", "Cedar", "Silver Creek", "Ironwood", "Northgate", "Riverbend",
    "Granite", "Prairie", "Bluebonnet", "Crescent", "Evergreen", "Liberty", "Meridian",
    "Oakmont", "Pioneer", "Sterling", "Sunbelt", "Trinity", "Vanguard", "Westfield",
    "Copper Hill", "Bayou", "Highland", "Magnolia", "Patriot", "Lakeshore", "Canyon",
    "Falcon", "Horizon", "Atlas", "Beacon", "Cypress",
)
# second word of a company name, and the industry it suggests
NAME_SECOND = (
    ("Health", "Healthcare"), ("Medical Group", "Healthcare"), ("Clinics", "Healthcare"),
    ("Bank", "Finance"), ("Capital", "Finance"), ("Insurance", "Finance"),
    ("Foods", "Retail"), ("Outfitters", "Retail"), ("Markets", "Retail"),
    ("Manufacturing", "Manufacturing"), ("Plastics", "Manufacturing"), ("Steel", "Manufacturing"),
    ("Schools", "Education"), ("College", "Education"), ("Academy", "Education"),
    ("Energy", "Energy"), ("Oil & Gas", "Energy"), ("Power", "Energy"),
    ("Logistics", "Logistics"), ("Freight", "Logistics"), ("Transport", "Logistics"),
    ("Media", "Media"), ("Broadcasting", "Media"), ("Studios", "Media"),
    ("Labs", "Technology"), ("Software", "Technology"), ("Data Systems", "Technology"),
    ("Realty", "Real Estate"), ("Properties", "Real Estate"), ("Hotels", "Hospitality"),
)
NAME_SUFFIX = ("Inc", "LLC", "Corp", "Group", "Co", "Ltd")
ACCOUNT_TYPES = (("ENT", 40), ("SMB", 45), ("GOV", 8), ("WHL", 7))

PERSON_FIRST = (
    "James", "Maria", "Robert", "Linda", "Michael", "Patricia", "David", "Jennifer", "Carlos",
    "Elizabeth", "Daniel", "Susan", "Jose", "Jessica", "Thomas", "Sarah", "Kevin", "Karen",
    "Brian", "Nancy", "Anthony", "Lisa", "Mark", "Angela", "Steven", "Priya", "Wei", "Aisha",
)
PERSON_LAST = (
    "Smith", "Garcia", "Johnson", "Martinez", "Brown", "Rodriguez", "Davis", "Hernandez",
    "Miller", "Lopez", "Wilson", "Gonzalez", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Clark", "Nguyen", "Patel", "Kim",
)
STREETS = (
    "Congress", "Main", "Commerce", "Elm", "Oak", "Lamar", "Industrial", "Technology",
    "Market", "Broadway", "Park", "Lake", "River", "Cedar", "Washington", "Jefferson",
    "Airport", "Research", "Gateway", "Harbor",
)
STREET_KINDS = ("St", "Ave", "Blvd", "Rd", "Pkwy", "Dr", "Way")

PRODUCTS = (
    Product("DIA", 450.0, ((50, 3), (100, 6), (200, 4), (500, 3), (1000, 3), (10000, 1)), False,
            (500, 750, 1000), 30),
    Product("MPLS", 600.0, ((10, 2), (20, 3), (50, 5), (100, 6), (200, 3), (500, 2), (1000, 1)),
            True, (750, 1000, 1500), 20),
    Product("EVPL", 700.0, ((100, 5), (200, 3), (500, 3), (1000, 4), (10000, 1)), True,
            (1000, 1500, 2500), 15),
    Product("WAVE", 2500.0, ((10000, 4), (100000, 1)), True, (2500, 5000), 3),
    Product("SDWAN", 350.0, ((50, 3), (100, 5), (200, 3), (500, 2)), False, (250, 500), 17),
    Product("BBND", 120.0, ((100, 3), (300, 4), (500, 3), (1000, 2)), False, (150, 250), 15),
)
TIERS = (
    Tier("Bronze", 1.0, 99.5, 12, 30),
    Tier("Silver", 1.25, 99.9, 24, 35),
    Tier("Gold", 1.6, 99.95, 36, 25),
    Tier("Platinum", 2.1, 99.99, 36, 10),
)
# Each product team typed the tier names its own way.
PLAN_NAME_STYLE = {
    "DIA": str,
    "MPLS": str.upper,
    "EVPL": lambda tier: tier.lower() + " ",
    "WAVE": str,
    "SDWAN": str.lower,
    "BBND": str,
}

SEVERITIES = ((1, 10), (2, 25), (3, 45), (4, 20))
# typical hours to repair by severity
REPAIR_HOURS = {1: 3.0, 2: 6.0, 3: 14.0, 4: 30.0}
REASONS = (
    ("FIBER", 12), ("POWER", 10), ("CPE", 28), ("CONFIG", 22), ("CARRIER", 10), ("NTF", 18),
)
# fmt: on


@dataclasses.dataclass(frozen=True)
class Wart:
    """One planted inconsistency: where it is and what kind (the ground truth's vocabulary)."""

    table: str
    column: str
    kind: str


@dataclasses.dataclass
class Demo:
    """The rows of every table, by table name, and the values planted as warts."""

    rows: dict[str, list[dict[str, Any]]]
    planted: dict[Wart, list[Any]]

    @property
    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def generate(seed: int = SEED) -> Demo:
    """Draw all tables; the same seed gives the same rows."""
    draw = _Draw(random.Random(seed))
    plans = draw.plans()
    customers = draw.customers()
    sites = draw.sites(customers)
    circuits = draw.circuits(customers, sites)
    orders = draw.orders(customers, circuits)
    draw.settle_customers(customers, circuits, orders)
    invoices, lines = draw.billing(customers, circuits)
    tickets = draw.tickets(circuits)
    rows = {
        "customers": [_public(c) for c in customers],
        "sites": sites,
        "plans": plans,
        "circuits": [_public(c) for c in circuits],
        "orders": [_public(o) for o in orders],
        "invoices": invoices,
        "invoice_lines": lines,
        "tickets": tickets,
    }
    return Demo(rows=rows, planted=draw.planted)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """The row without the generator's working fields (those start with an underscore)."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _weighted(rng: random.Random, items: tuple) -> Any:
    """One of the items, each a tuple whose last field is its weight."""
    return rng.choices(items, weights=[item[-1] for item in items])[0]


def _day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _month_end(month: date) -> date:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return following - timedelta(days=1)


class _Draw:
    """One run of the generator: the random source and the warts planted so far."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.planted: dict[Wart, list[Any]] = {}
        self.plan_ids: dict[tuple[str, str], int] = {}
        self.pops: dict[str, int] = {}  # the carrier's own site in each city
        self._shown: dict[tuple[Wart, str], list[Any]] = {}

    def plant(self, table: str, column: str, kind: str, value: Any, style: str = "") -> Any:
        """Note `value` as an example of a wart and return it; a few examples of each style."""
        wart = Wart(table, column, kind)
        examples = self.planted.setdefault(wart, [])
        shown = self._shown.setdefault((wart, style), [])
        if value not in shown and len(shown) < EXAMPLES_PER_STYLE:
            shown.append(value)
            examples.append(value)
        return value

    def plans(self) -> list[dict[str, Any]]:
        rows = []
        for product in PRODUCTS:
            for tier in TIERS:
                name = PLAN_NAME_STYLE[product.code](tier.name)
                if tier.name == "Gold":
                    self.plant("plans", "plan_nm", VARIANTS, name, style=name)
                plan_id = len(rows) + 1
                self.plan_ids[product.code, tier.name] = plan_id
                rows.append(
                    {
                        "plan_id": plan_id,
                        "prod_cd": product.code,
                        "plan_nm": name,
                        "sla_pct": tier.sla_pct,
                        "term_mo": tier.term_mo,
                        "list_mrc": round(product.bronze_price * tier.price_factor, 2),
                    }
                )
        return rows

    def customers(self) -> list[dict[str, Any]]:
        rng = self.rng
        pairs = [(first, second) for first in NAME_FIRST for second in NAME_SECOND]
        chosen = rng.sample(range(len(pairs)), N_CUSTOMERS)
        account_numbers = rng.sample(range(1_000_000, 9_999_999), N_CUSTOMERS)
        rows = []
        for cust_id, (pick, account) in enumerate(
            zip(chosen, account_numbers, strict=True), start=1
        ):
            first, (second, industry) = pairs[pick]
            city, state, *_ = _weighted(rng, CITIES)
            if rng.random() < 0.05:
                industry = self.plant("customers", "industry", SENTINEL, NOT_AVAILABLE)
            rows.append(
                {
                    "cust_id": cust_id,
                    "cust_nm": f"{first} {second} {rng.choice(NAME_SUFFIX)}",
                    "acct_no": f"AC{account}",
                    "acct_typ": _weighted(rng, ACCOUNT_TYPES)[0],
                    "industry": industry,
                    "city": city,
                    "st": self._state_as_typed(state),
                    "crt_dt": None,
                    "status": None,
                    "_circuits": self._circuit_count(),
                }
            )
        return rows

    def _circuit_count(self) -> int:
        """A few circuits for most customers, dozens for a handful: a Pareto tail below 100."""
        if self.rng.random() < 0.06:
            return 0  # a prospect
        count = 100
        while count >= 100:
            count = int(self.rng.paretovariate(1.2))
        return count

    def _state_as_typed(self, state: str) -> str:
        """The head office's state as the sales team typed it: mostly the code, sometimes not."""
        roll = self.rng.random()
        if roll < 0.04:
            variant = state.lower() + " "
        elif roll < 0.06:
            variant = state.lower()
        elif roll < 0.09:
            variant = STATE_NAMES[state]
        else:
            return state
        if state == "TX":
            self.plant("customers", "st", VARIANTS, "TX", style="TX")
            self.plant("customers", "st", VARIANTS, variant, style=variant)
        return variant

    def sites(self, customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rng = self.rng
        # Building codes are unique within a city: two letters or digits after the city code.
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
        codes = {c[0]: [a + b for a in alphabet for b in alphabet] for c in CITIES}
        for pool in codes.values():
            rng.shuffle(pool)
        by_city = {c[0]: c for c in CITIES}
        rows: list[dict[str, Any]] = []

        def add(cust_id: int | None, name: str, city: str, contact: str | None) -> int:
            _, state, clli_city, zip3, _ = by_city[city]
            rows.append(
                {
                    "site_id": len(rows) + 1,
                    "cust_id": cust_id,
                    "site_nm": name,
                    "addr_ln1": f"{rng.randint(100, 9999)} {rng.choice(STREETS)} "
                    f"{rng.choice(STREET_KINDS)}",
                    "city": city,
                    "st": state,
                    "zip_code": f"{zip3}{rng.randint(1, 99):02d}",
                    "clli": clli_city[:4] + state + codes[city].pop(),
                    "contact_name": contact,
                }
            )
            return len(rows)

        self.pops = {city: add(None, f"{city} POP", city, None) for city in by_city}
        for customer in customers:
            short = customer["cust_nm"].rsplit(" ", 1)[0]
            count = 1 + min(40, int(customer["_circuits"] * 0.45))
            customer["_sites"] = []
            for n in range(count):
                city = (
                    customer["city"] if n == 0 or rng.random() < 0.4 else _weighted(rng, CITIES)[0]
                )
                label = "HQ" if n == 0 else f"Branch {n}"
                contact = f"{rng.choice(PERSON_FIRST)} {rng.choice(PERSON_LAST)}"
                customer["_sites"].append(
                    add(customer["cust_id"], f"{short} {label}", city, contact)
                )
        return rows

    def circuits(
        self, customers: list[dict[str, Any]], sites: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        rng = self.rng
        pending_from, last_activation = date(2024, 10, 1), date(2024, 12, 10)
        span = (last_activation - DATA_START).days
        drafts = []
        for customer in customers:
            for _ in range(customer["_circuits"]):
                product = _weighted(rng, PRODUCTS)
                tier = _weighted(rng, TIERS)
                bw = _weighted(rng, product.bandwidths)[0]
                aloc = rng.choice(customer["_sites"])
                zloc = None
                if product.two_ended:
                    # To another of the customer's sites, or else to the carrier's POP nearby.
                    others = [s for s in customer["_sites"] if s != aloc]
                    zloc = rng.choice(others) if others else self.pops[sites[aloc - 1]["city"]]
                discount = rng.randint(70, 100) / 100
                list_price = product.bronze_price * tier.price_factor  # at the lowest speed
                lowest = product.bandwidths[0][0]
                if rng.random() < 0.05:
                    status, activated = "PEND", None
                    ordered = _day_between(rng, pending_from, DATA_END - timedelta(days=10))
                else:
                    # Skewed towards recent years: the network grew.
                    activated = DATA_START + timedelta(days=int(span * rng.random() ** 0.6))
                    ordered = activated - timedelta(days=rng.randint(25, 75))
                    status = "ACTV"
                if activated and activated < date(2024, 6, 30) and rng.random() < 0.18:
                    status = "DISC"
                    disconnected = _day_between(rng, activated + timedelta(days=180), DATA_END)
                else:
                    disconnected = self.plant("circuits", "disc_dt", SENTINEL, NO_END_DATE)
                drafts.append(
                    {
                        "ckt_id": None,
                        "ckt_ref": None,
                        "cust_id": customer["cust_id"],
                        "plan_id": self.plan_ids[product.code, tier.name],
                        "aloc": aloc,
                        "zloc": zloc,
                        "aia": self._interface(product.code, bw),
                        "bw_mbps": bw,
                        "mrc_amt": round(list_price * (bw / lowest) ** 0.55 * discount, 2),
                        "nrc_amt": float(rng.choice(product.install_fees)),
                        "svc_actv_dt": activated,
                        "disc_dt": disconnected,
                        "ckt_stat": status,
                        "_ordered": ordered,
                        "_product": product.code,
                    }
                )

        # Identifiers follow the order date, as a provisioning system hands them out.
        drafts.sort(key=lambda d: (d["_ordered"], d["cust_id"]))
        for ckt_id, draft in enumerate(drafts, start=1):
            draft["ckt_id"] = ckt_id
            clli = sites[draft["aloc"] - 1]["clli"]
            bw = draft["bw_mbps"]
            speed = f"{bw // 1000}G" if bw >= 1000 else f"{bw}M"
            draft["ckt_ref"] = f"{draft['_product']}/{speed}/{clli}/{ckt_id:05d}"
        # A re-provisioned circuit sometimes keeps the reference of the one it replaced.
        for draft in drafts[100:]:
            if rng.random() < 0.02:
                earlier = drafts[rng.randrange(draft["ckt_id"] - 1)]
                draft["ckt_ref"] = earlier["ckt_ref"]
                self.plant("circuits", "ckt_ref", DUPLICATE_KEY, earlier["ckt_ref"])
        return drafts

    def _interface(self, product: str, bw: int) -> str:
        if bw >= 100000:
            return "100GBASE-LR4"
        if bw >= 10000:
            return "10GBASE-LR"
        if bw > 100:
            return "1000BASE-T" if product == "BBND" or self.rng.random() < 0.3 else "1000BASE-LX"
        return "100BASE-TX"

    def orders(
        self, customers: list[dict[str, Any]], circuits: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        rng = self.rng
        reps = sorted({f"{a} {b}" for a in PERSON_FIRST[:12] for b in PERSON_LAST[:12]})
        reps = rng.sample(reps, 24)
        owner = {c["cust_id"]: rng.choice(reps) for c in customers}
        drafts: list[dict[str, Any]] = []

        def add(
            cust_id: int, ckt_id: int | None, kind: str, day: date, foc: date | None, status: str
        ) -> None:
            rep = owner[cust_id] if rng.random() < 0.85 else rng.choice(reps)
            drafts.append(
                {
                    "cust_id": cust_id,
                    "ckt_id": ckt_id,
                    "ord_typ": kind,
                    "_day": day,
                    "foc_dt": foc,
                    "status": status,
                    "salesperson": rep,
                }
            )

        for c in circuits:
            cust_id, ckt_id = c["cust_id"], c["ckt_id"]
            if c["ckt_stat"] == "PEND":
                foc = c["_ordered"] + timedelta(days=rng.randint(14, 45))
                add(cust_id, ckt_id, "NEW", c["_ordered"], foc, "in progress")
                continue
            foc = c["svc_actv_dt"] - timedelta(days=rng.randint(0, 7))
            add(cust_id, ckt_id, "NEW", c["_ordered"], foc, "complete")
            if c["ckt_stat"] == "DISC":
                day = c["disc_dt"] - timedelta(days=rng.randint(30, 60))
                add(cust_id, ckt_id, "DISC", day, c["disc_dt"], "complete")
            elif c["svc_actv_dt"] < date(2024, 6, 1) and rng.random() < 0.12:
                day = _day_between(rng, c["svc_actv_dt"] + timedelta(days=90), date(2024, 12, 20))
                foc = day + timedelta(days=rng.randint(7, 30))
                add(
                    cust_id,
                    ckt_id,
                    "CHG",
                    day,
                    foc,
                    "complete" if foc <= DATA_END else "in progress",
                )
        for _ in range(len(circuits) // 20):
            customer = rng.choice(customers)
            day = _day_between(rng, date(2018, 1, 1), DATA_END)
            add(customer["cust_id"], None, "NEW", day, None, "cancelled")

        drafts.sort(key=lambda d: (d["_day"], d["cust_id"]))
        for ord_id, draft in enumerate(drafts, start=1):
            draft["ord_id"] = ord_id
            draft["order_date"] = self._date_as_typed(draft["_day"])
        return drafts

    def _date_as_typed(self, day: date) -> str:
        """Order dates are text; the older order-entry screen wrote them the US way."""
        if self.rng.random() < 0.15:
            style, text = "us", day.strftime("%m/%d/%Y")
        else:
            style, text = "iso", day.isoformat()
        return self.plant("orders", "order_date", MIXED_DATES, text, style)

    def settle_customers(
        self,
        customers: list[dict[str, Any]],
        circuits: list[dict[str, Any]],
        orders: list[dict[str, Any]],
    ) -> None:
        """Creation date and status follow from the customer's orders and circuits."""
        rng = self.rng
        first_order: dict[int, date] = {}
        for order in orders:
            first_order.setdefault(order["cust_id"], order["_day"])
        states: dict[int, set[str]] = defaultdict(set)
        for c in circuits:
            states[c["cust_id"]].add(c["ckt_stat"])
        for customer in customers:
            cust_id = customer["cust_id"]
            if cust_id in first_order:
                customer["crt_dt"] = first_order[cust_id] - timedelta(days=rng.randint(7, 365))
            else:
                customer["crt_dt"] = _day_between(rng, date(2023, 1, 1), DATA_END)
            held = states.get(cust_id, set())
            if held & {"ACTV", "PEND"}:
                customer["status"] = "active"
            elif held:
                customer["status"] = "churned"
            else:
                customer["status"] = "prospect"

    def billing(
        self, customers: list[dict[str, Any]], circuits: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """An invoice a month for each customer with circuits in service; a line per charge."""
        rng = self.rng
        by_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for c in circuits:
            if c["svc_actv_dt"] is not None:
                by_customer[c["cust_id"]].append(c)
        unpaid_share = {date(2024, 12, 1): 0.55, date(2024, 11, 1): 0.08}
        invoices: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        for month in BILLING_MONTHS:
            month_end = _month_end(month)
            for customer in customers:
                billed = [
                    c
                    for c in by_customer.get(customer["cust_id"], ())
                    if c["svc_actv_dt"] <= month_end and c["disc_dt"] >= month
                ]
                if not billed:
                    continue
                invoice_id = len(invoices) + 1
                charges = []
                for c in billed:
                    charges.append((c["ckt_id"], "MRC", c["mrc_amt"]))
                    if c["svc_actv_dt"] >= month:
                        charges.append((c["ckt_id"], "NRC", c["nrc_amt"]))
                subtotal = sum(amount for *_, amount in charges)
                charges.append((None, "TAX", round(subtotal * TAX_RATE, 2)))
                for ckt_id, kind, amount in charges:
                    lines.append(
                        {
                            "line_id": len(lines) + 1,
                            "invoice_id": invoice_id,
                            "ckt_id": ckt_id,
                            "chg_typ": kind,
                            "line_amt": amount,
                        }
                    )
                total = round(sum(amount for *_, amount in charges), 2)
                invoices.append(
                    {
                        "invoice_id": invoice_id,
                        "cust_id": customer["cust_id"],
                        "bill_prd": month.strftime("%Y-%m"),
                        "inv_dt": month,
                        "due_date": month + timedelta(days=30),
                        "inv_amt": self._amount_as_typed(total),
                        "paid_flg": "N" if rng.random() < unpaid_share.get(month, 0.02) else "Y",
                    }
                )
        return invoices, lines

    def _amount_as_typed(self, amount: float) -> str:
        """Invoice totals come from the billing system's print file, formatting and all."""
        roll = self.rng.random()
        if roll < 0.05:
            style, text = "dollar", f"${amount:,.2f}"
        elif amount >= 1000 and roll < 0.15:
            style, text = "thousands", f"{amount:,.2f}"
        else:
            style, text = "plain", f"{amount:.2f}"
        return self.plant("invoices", "inv_amt", NUMBER_AS_TEXT, text, style)

    def tickets(self, circuits: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rng = self.rng
        candidates = [
            c for c in circuits if c["svc_actv_dt"] is not None and c["disc_dt"] >= TICKETS_FROM
        ]
        drafts = []
        for _ in range(N_TICKETS):
            if rng.random() < 0.02:
                # A partner's circuit: the ticket system knows it, the inventory never got it.
                ckt_id = self.plant(
                    "tickets", "ckt_id", ORPHAN, len(circuits) + rng.randint(1, 400)
                )
                day = _day_between(rng, TICKETS_FROM, date(2024, 6, 30))
            else:
                circuit = rng.choice(candidates)
                ckt_id = circuit["ckt_id"]
                first = max(circuit["svc_actv_dt"], TICKETS_FROM)
                day = _day_between(rng, first, min(circuit["disc_dt"], DATA_END))
            opened = datetime(day.year, day.month, day.day) + timedelta(
                minutes=rng.randint(0, 24 * 60 - 1)
            )
            sev = _weighted(rng, SEVERITIES)[0]
            drafts.append(self._resolution(ckt_id, opened, sev))

        drafts.sort(key=lambda d: (d["opened_at"], d["ckt_id"]))
        return [{"tt_id": n, **d} for n, d in enumerate(drafts, start=1)]

    def _resolution(self, ckt_id: int, opened: datetime, sev: int) -> dict[str, Any]:
        """The ticket's fate: closed after a repair time typical of its severity, or still open."""
        rng = self.rng
        reason = _weighted(rng, REASONS)[0]
        minutes = max(5, round(rng.lognormvariate(math.log(REPAIR_HOURS[sev]), 0.8) * 60))
        closed: datetime | None = opened + timedelta(minutes=minutes)
        status = "closed"
        if opened >= datetime(2024, 12, 20):
            status = rng.choices(["open", "in progress", "closed"], weights=[45, 20, 35])[0]
        elif opened >= datetime(2024, 1, 1) and rng.random() < 0.03:
            status = "open"  # forgotten in the queue
        if closed > DATA_END_AT and status == "closed":
            status = "in progress"
        hours: float = round(minutes / 60, 2)
        if status != "closed":
            closed = None
            hours = self.plant("tickets", "mttr_hrs", SENTINEL, UNRESOLVED_HRS)
        return {
            "ckt_id": ckt_id,
            "opened_at": opened,
            "closed_at": closed,
            "sev": sev,
            "status": status,
            "rsn_cd": reason,
            "mttr_hrs": hours,
        }
