"""The demo's tables, named the way a telecom's circuit and billing systems name them.

A column whose name is an abbreviation carries its meaning in ``info["meaning"]``. That stays on
the Python side: the database gets no comments (real company data rarely has them, and supplying
meanings is the curation's job). The ground truth lists exactly these columns as cryptic.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

metadata = sa.MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
    }
)

# Floats on every backend, so rows compare alike whether they come from SQLite or MySQL.
Money = sa.Numeric(10, 2, asdecimal=False)
# SQLite would otherwise store '2024-03-01 09:30:00.000000'; plain seconds read better.
Timestamp = sa.DateTime().with_variant(
    sqlite.DATETIME(
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d"
    ),
    "sqlite",
)


def meaning(text: str) -> dict[str, str]:
    """The ``info`` of a cryptic column."""
    return {"meaning": text}


def _key(name: str, text: str) -> sa.Column:
    return sa.Column(name, sa.Integer, primary_key=True, autoincrement=False, info=meaning(text))


def _ref(name: str, target: str, text: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name, sa.Integer, sa.ForeignKey(target), nullable=nullable, index=True, info=meaning(text)
    )


customers = sa.Table(
    "customers",
    metadata,
    _key("cust_id", "customer identifier"),
    sa.Column("cust_nm", sa.String(80), nullable=False, info=meaning("customer (company) name")),
    sa.Column("acct_no", sa.String(12), nullable=False, info=meaning("billing account number")),
    sa.Column(
        "acct_typ",
        sa.String(3),
        nullable=False,
        info=meaning(
            "account type: ENT enterprise, SMB small or medium business, GOV government, "
            "WHL wholesale"
        ),
    ),
    sa.Column("industry", sa.String(40), nullable=False),
    sa.Column("city", sa.String(40), nullable=False),
    sa.Column("st", sa.String(20), nullable=False, info=meaning("state of the head office")),
    sa.Column("crt_dt", sa.Date, nullable=False, info=meaning("date the account was created")),
    sa.Column("status", sa.String(12), nullable=False),
)

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("site_id", sa.Integer, primary_key=True, autoincrement=False),
    _ref(
        "cust_id",
        "customers.cust_id",
        "customer owning the site; empty for the carrier's own points of presence",
        nullable=True,
    ),
    sa.Column("site_nm", sa.String(80), nullable=False, info=meaning("site name")),
    sa.Column("addr_ln1", sa.String(80), nullable=False, info=meaning("street address, line 1")),
    sa.Column("city", sa.String(40), nullable=False),
    sa.Column("st", sa.String(2), nullable=False, info=meaning("state (two-letter code)")),
    sa.Column("zip_code", sa.String(5), nullable=False),
    sa.Column(
        "clli",
        sa.String(8),
        nullable=False,
        info=meaning("CLLI code: the telecom industry's identifier of the building"),
    ),
    sa.Column("contact_name", sa.String(60)),
)

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("plan_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column(
        "prod_cd",
        sa.String(6),
        nullable=False,
        info=meaning(
            "product code: DIA dedicated internet access, MPLS MPLS VPN, EVPL ethernet private "
            "line, WAVE wavelength, SDWAN SD-WAN, BBND business broadband"
        ),
    ),
    sa.Column(
        "plan_nm",
        sa.String(20),
        nullable=False,
        info=meaning("plan name: the service tier (Bronze, Silver, Gold, Platinum)"),
    ),
    sa.Column(
        "sla_pct",
        sa.Numeric(5, 2, asdecimal=False),
        nullable=False,
        info=meaning("availability promised by the service level agreement, in percent"),
    ),
    sa.Column("term_mo", sa.Integer, nullable=False, info=meaning("contract term in months")),
    sa.Column(
        "list_mrc",
        Money,
        nullable=False,
        info=meaning(
            "list price: monthly recurring charge in USD at the lowest speed, before discounts"
        ),
    ),
)

circuits = sa.Table(
    "circuits",
    metadata,
    _key("ckt_id", "circuit identifier"),
    sa.Column(
        "ckt_ref",
        sa.String(32),
        nullable=False,
        info=meaning("circuit reference, as printed on orders and invoices"),
    ),
    _ref("cust_id", "customers.cust_id", "customer the circuit is sold to"),
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.plan_id"), nullable=False, index=True),
    _ref("aloc", "sites.site_id", "A-location: the site at the circuit's near end"),
    _ref(
        "zloc",
        "sites.site_id",
        "Z-location: the site at the circuit's far end; empty for internet access",
        nullable=True,
    ),
    sa.Column(
        "aia",
        sa.String(12),
        nullable=False,
        info=meaning("access interface type at the A-location, e.g. 1000BASE-LX"),
    ),
    sa.Column(
        "bw_mbps", sa.Integer, nullable=False, info=meaning("bandwidth in megabits per second")
    ),
    sa.Column("mrc_amt", Money, nullable=False, info=meaning("monthly recurring charge in USD")),
    sa.Column(
        "nrc_amt",
        Money,
        nullable=False,
        info=meaning("non-recurring charge in USD: the one-time installation fee"),
    ),
    sa.Column(
        "svc_actv_dt",
        sa.Date,
        info=meaning("service activation date; empty while the circuit is pending"),
    ),
    sa.Column(
        "disc_dt",
        sa.Date,
        nullable=False,
        info=meaning("disconnect date; 9999-12-31 while the circuit is not disconnected"),
    ),
    sa.Column(
        "ckt_stat",
        sa.String(4),
        nullable=False,
        info=meaning("circuit status: ACTV active, PEND pending activation, DISC disconnected"),
    ),
)

orders = sa.Table(
    "orders",
    metadata,
    _key("ord_id", "order identifier"),
    _ref("cust_id", "customers.cust_id", "customer who placed the order"),
    _ref(
        "ckt_id",
        "circuits.ckt_id",
        "circuit the order is for; empty for a new order that was cancelled",
        nullable=True,
    ),
    sa.Column(
        "ord_typ",
        sa.String(4),
        nullable=False,
        info=meaning("order type: NEW new service, CHG change, DISC disconnect"),
    ),
    sa.Column("order_date", sa.String(10), nullable=False),
    sa.Column(
        "foc_dt",
        sa.Date,
        info=meaning("firm order commitment date: the delivery date the carrier committed to"),
    ),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("salesperson", sa.String(40), nullable=False),
)

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("invoice_id", sa.Integer, primary_key=True, autoincrement=False),
    _ref("cust_id", "customers.cust_id", "customer billed"),
    sa.Column("bill_prd", sa.String(7), nullable=False, info=meaning("billing period, as YYYY-MM")),
    sa.Column("inv_dt", sa.Date, nullable=False, info=meaning("invoice date")),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("inv_amt", sa.String(16), nullable=False, info=meaning("invoice total in USD")),
    sa.Column(
        "paid_flg",
        sa.String(1),
        nullable=False,
        info=meaning("paid flag: Y when the invoice is paid, N when not"),
    ),
)

invoice_lines = sa.Table(
    "invoice_lines",
    metadata,
    sa.Column("line_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column(
        "invoice_id", sa.Integer, sa.ForeignKey("invoices.invoice_id"), nullable=False, index=True
    ),
    _ref(
        "ckt_id",
        "circuits.ckt_id",
        "circuit charged on this line; empty for tax lines",
        nullable=True,
    ),
    sa.Column(
        "chg_typ",
        sa.String(3),
        nullable=False,
        info=meaning("charge type: MRC monthly recurring, NRC one-time, TAX taxes and fees"),
    ),
    sa.Column("line_amt", Money, nullable=False, info=meaning("amount of the line in USD")),
)

tickets = sa.Table(
    "tickets",
    metadata,
    _key("tt_id", "trouble ticket identifier"),
    # Tickets outlive the circuits they were opened on (old circuits are purged), so this key
    # has orphans; PostgreSQL gets it as NOT VALID for that reason.
    _ref("ckt_id", "circuits.ckt_id", "circuit the trouble ticket was opened on"),
    sa.Column("opened_at", Timestamp, nullable=False),
    sa.Column("closed_at", Timestamp),
    sa.Column(
        "sev",
        sa.Integer,
        nullable=False,
        info=meaning("severity, from 1 (service down) to 4 (question or request)"),
    ),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column(
        "rsn_cd",
        sa.String(8),
        nullable=False,
        info=meaning(
            "reason code of the fault: FIBER fiber cut, POWER power, CPE customer equipment, "
            "CONFIG configuration, CARRIER another carrier's network, NTF no trouble found"
        ),
    ),
    sa.Column(
        "mttr_hrs",
        sa.Numeric(7, 2, asdecimal=False),
        nullable=False,
        info=meaning("time to repair in hours: how long service took to restore; -1 while open"),
    ),
)

ORPHANED_FK = "fk_tickets_ckt_id"
