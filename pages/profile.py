"""Profile: know the data before prompting it, and curate what it means into the glossary."""

from __future__ import annotations

import getpass

import pandas as pd
import streamlit as st

from core import glossary_store
from core.curate import Curation, curate
from core.errors import QuarryError
from core.glossary import BusinessTerm, ColumnMeaning, Glossary, ValueSynonym
from core.profile_report import ProfileReportResult, build_report
from core.profile_stats import profile_tables
from pages import shared

settings = shared.start()

CURATION = "profile_curation"
DRAFT = "profile_draft"
EDITORS = ("profile_meanings", "profile_synonyms", "profile_terms")
MEANING_COLUMNS = ["table", "column", "meaning", "source"]
SYNONYM_COLUMNS = ["table", "column", "synonym", "value", "source"]
TERM_COLUMNS = ["term", "definition", "table", "source"]

st.title("Profile")
target = shared.current_target(settings)
if target is None:
    st.stop()
spec = shared.current_spec(settings)
connection = spec.name if spec else target.name


@st.cache_data(show_spinner=False, max_entries=50)
def _report(
    _target, key: str, table: str, rows: int, minimal: bool, total: int | None
) -> ProfileReportResult:
    """Cached per connection, table, sample size and mode: a second look is instant.
    `total` is the exact row count the statistics found."""
    return build_report(
        _target,
        _target.schema.table(table),
        settings,
        sample_rows=rows,
        minimal=minimal,
        total=total,
    )


def _frames(glossary: Glossary) -> dict[str, pd.DataFrame]:
    return {
        "meanings": pd.DataFrame(
            [(m.table, m.column, m.meaning, m.source) for m in glossary.meanings],
            columns=MEANING_COLUMNS,
        ),
        "synonyms": pd.DataFrame(
            [(s.table, s.column, s.synonym, s.value, s.source) for s in glossary.synonyms],
            columns=SYNONYM_COLUMNS,
        ),
        "terms": pd.DataFrame(
            [(t.term, t.definition, t.table, t.source) for t in glossary.terms],
            columns=TERM_COLUMNS,
        ),
    }


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _glossary(frames: dict[str, pd.DataFrame]) -> Glossary:
    rows = {k: f.to_dict("records") for k, f in frames.items()}
    return glossary_store.clean(
        Glossary(
            meanings=[
                ColumnMeaning(
                    _text(r["table"]),
                    _text(r["column"]),
                    _text(r["meaning"]),
                    _text(r["source"]) or "typed",
                )
                for r in rows["meanings"]
            ],
            synonyms=[
                ValueSynonym(
                    _text(r["table"]),
                    _text(r["column"]),
                    _text(r["synonym"]),
                    _text(r["value"]),
                    _text(r["source"]) or "typed",
                )
                for r in rows["synonyms"]
            ],
            terms=[
                BusinessTerm(
                    _text(r["term"]),
                    _text(r["definition"]),
                    _text(r["table"]),
                    _text(r["source"]) or "typed",
                )
                for r in rows["terms"]
            ],
        )
    )


def _set_draft(glossary: Glossary, version: int | None = None) -> None:
    st.session_state[DRAFT] = {"connection": connection, "version": version, **_frames(glossary)}
    for key in EDITORS:
        st.session_state.pop(key, None)


def _draft() -> dict[str, pd.DataFrame]:
    draft = st.session_state.get(DRAFT)
    if draft is None or draft.get("connection") != connection:
        try:
            version = glossary_store.newest_version(connection)
            _set_draft(glossary_store.load(connection, version=version or None), version)
        except Exception as exc:  # the page still profiles when the store is unwell
            st.warning(f"The stored glossary could not be read: {str(exc).splitlines()[0]}")
            _set_draft(Glossary())
        draft = st.session_state[DRAFT]
    return draft


def _profile() -> None:
    tables = target.schema.main_tables
    with st.status(f"Profiling {len(tables)} tables and views…", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(index: int, count: int, name: str) -> None:
            bar.progress(index / max(count, 1), text=f"{name} ({index + 1} of {count})")

        stats = profile_tables(target, settings, on_table=progress)
        bar.progress(1.0, text="Looking for findings…")
        client = None
        if settings.has_model:
            from core.generate_sql import make_client

            client = make_client(settings)
        found = curate(target, settings, stats, client=client)
        status.update(label=f"Profiled {len(stats)} tables and views", state="complete")
    st.session_state[CURATION] = {"connection": connection, "curation": found}


# -- profiling ---------------------------------------------------------------------

with st.form("profile_form", border=False):
    st.caption(
        "Statistics are computed in the database (exact, read-only, "
        f"{settings.profile_timeout_s:g} s per query); nothing is loaded whole."
    )
    profiled = st.form_submit_button(
        "Profile all tables", type="primary", icon=":material/query_stats:"
    )
if profiled:
    _profile()

held = st.session_state.get(CURATION)
curation: Curation | None = held["curation"] if held and held["connection"] == connection else None

if curation is None:
    st.info("Profile the tables to see their statistics and what would mislead a model.")
else:
    st.subheader("Overview")
    by_table = {s.table: s for s in curation.stats}
    overview = pd.DataFrame(
        [
            {
                "table": t.name,
                "kind": t.kind,
                "rows": by_table[t.name].rows if t.name in by_table else None,
                "columns": len(t.columns),
                "keys": ", ".join(t.primary_key)
                + (f" · {len(t.foreign_keys)} FK" if t.foreign_keys else ""),
                "findings": len(curation.for_table(t.name)),
                "problem": (by_table[t.name].error or "") if t.name in by_table else "",
            }
            for t in target.schema.main_tables
        ]
    )
    st.dataframe(overview, hide_index=True, width="stretch", key="profile_overview")
    for problem in curation.problems:
        st.caption(f":material/warning: {problem}")

    st.subheader("Columns")
    names = [s.table for s in curation.stats if s.columns]
    chosen = st.selectbox("Table", names, key="profile_table") if names else None
    if chosen:
        stats = by_table[chosen]
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "column": c.name,
                        "type": c.type,
                        "nulls": c.nulls,
                        "distinct": c.distinct,
                        "min": _text(c.min),
                        "max": _text(c.max),
                        "top values": ", ".join(f"{_text(v)} ×{n}" for v, n in c.top[:5])
                        + (" (all distinct)" if c.unique else ""),
                    }
                    for c in stats.columns
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        st.caption(
            f"{stats.rows:,} rows · {stats.statements} statements · {stats.duration_ms:,.0f} ms"
        )

        with st.form("profile_report_form"):
            left, right = st.columns(2)
            rows = left.number_input(
                "Sample rows", min_value=100, value=settings.profile_sample_rows, step=1000
            )
            minimal = right.toggle(
                "Minimal report",
                value=len(target.schema.table(chosen).columns) > settings.profile_minimal_columns,
            )
            wanted = st.form_submit_button(
                "Build the ydata-profiling report", icon=":material/analytics:"
            )
        if wanted:
            st.session_state["profile_report_key"] = (connection, chosen, int(rows), bool(minimal))
        key = st.session_state.get("profile_report_key")
        if key and key[0] == connection and key[1] == chosen:
            try:
                with st.spinner("Sampling in SQL and profiling…"):
                    report = _report(target, target.masked_url, chosen, key[2], key[3], stats.rows)
            except QuarryError as exc:
                shared.show_error(exc)
                report = None
            if report is not None:
                st.caption(
                    f"{report.caption} · {'minimal' if report.minimal else 'full'} report · "
                    f"{report.size_mb:.1f} MB"
                )
                for note in report.conversions:
                    st.caption(f":material/transform: {note}")
                if report.size_mb <= settings.profile_html_budget_mb:
                    st.iframe(report.html, height=900)
                else:
                    st.info(
                        f"The report is {report.size_mb:.1f} MB, over the "
                        f"{settings.profile_html_budget_mb:g} MB shown in the page "
                        "(QUARRY_PROFILE_HTML_BUDGET_MB); download it, its alerts are below."
                    )
                    st.download_button(
                        "Download the report",
                        report.html,
                        file_name=f"{chosen}-profile.html",
                        mime="text/html",
                        icon=":material/download:",
                    )
                    st.dataframe(
                        pd.DataFrame(
                            [vars(a) for a in report.alerts], columns=["column", "kind", "text"]
                        ),
                        hide_index=True,
                        width="stretch",
                    )

    st.subheader("Findings")
    findings = pd.DataFrame(
        [
            {
                "accept": False,
                "table": f.table,
                "column": f.column,
                "kind": f.kind,
                "suggestion": f.suggestion,
                "from": ", ".join(dict.fromkeys(s.source for s in f.suggestions)) or f.check,
                "detail": f.detail,
            }
            for f in curation.findings
        ]
    )
    edited = st.data_editor(
        findings,
        hide_index=True,
        width="stretch",
        disabled=["table", "column", "kind", "detail", "from"],
        key="profile_findings",
    )
    if st.button("Add the accepted suggestions to the glossary", icon=":material/playlist_add:"):
        draft = _glossary({k: v for k, v in _draft().items() if k not in ("connection", "version")})
        accepted = [
            (f, row)
            for f, row in zip(curation.findings, edited.to_dict("records"), strict=True)
            if row["accept"]
        ]
        added = 0
        for f, row in accepted:
            if f.synonyms:
                draft.synonyms += [
                    ValueSynonym(f.table, f.column, s, v, "curation") for s, v in f.synonyms
                ]
            elif f.column and f.kind != "inconsistent values":
                source = f.suggestions[0].source if f.suggestions else "curation"
                draft.meanings.append(ColumnMeaning(f.table, f.column, row["suggestion"], source))
            elif f.column:
                # a sentinel or a number kept as text: what the model must know of the values
                known = draft.meaning(f.table, f.column)
                draft.meanings = [
                    m for m in draft.meanings if (m.table, m.column) != (f.table, f.column)
                ]
                text = f"{known}; {f.detail}" if known and f.detail not in known else f.detail
                draft.meanings.append(ColumnMeaning(f.table, f.column, text, "curation"))
            else:
                continue
            added += 1
        _set_draft(draft, st.session_state.get(DRAFT, {}).get("version"))
        st.toast(
            f"Added {added} of {len(accepted)} accepted finding(s); review and save the glossary."
            if added
            else "Nothing of these findings goes in the glossary."
        )

# -- the glossary ------------------------------------------------------------------

st.subheader("Glossary")
draft = _draft()
st.caption("Column meanings")
meanings = st.data_editor(draft["meanings"], num_rows="dynamic", width="stretch", key=EDITORS[0])
st.caption("Value synonyms: a spelling in questions or data, and the value it stands for")
synonyms = st.data_editor(draft["synonyms"], num_rows="dynamic", width="stretch", key=EDITORS[1])
st.caption(
    "Business terms: a phrase analysts use, and the condition it means. A condition in SQL "
    "on one table's columns (`sla_pct >= 99.9`) is applied by the offline engine too; "
    "any definition goes to the model."
)
terms = st.data_editor(draft["terms"], num_rows="dynamic", width="stretch", key=EDITORS[2])
edited_glossary = _glossary({"meanings": meanings, "synonyms": synonyms, "terms": terms})
unknown = glossary_store.unknown_names(edited_glossary, target.schema)
if unknown:
    st.warning(
        f"{len(unknown)} entr{'y names' if len(unknown) == 1 else 'ies name'} what "
        f"{connection} does not have; questions will not use "
        f"{'it' if len(unknown) == 1 else 'them'} until fixed or deleted:\n\n"
        + "\n".join(f"- {p}" for p in unknown[:10])
        + (f"\n- … and {len(unknown) - 10} more" if len(unknown) > 10 else "")
    )

team_user = shared.current_user(settings)
with st.form("profile_save_form", border=False):
    if team_user is None:
        author = st.text_input("Your name", value=getpass.getuser(), key="profile_author")
    else:
        author = team_user  # in team mode the author is who logged in
        st.caption(f"Saved as **{team_user}**")
    save = st.form_submit_button("Save the glossary", type="primary", icon=":material/save:")
if save:
    try:
        info = glossary_store.save(
            connection, edited_glossary, author=author, base=draft.get("version")
        )
    except QuarryError as exc:
        shared.show_error(exc)
    except Exception as exc:  # the edits stay in the editors; nothing is lost
        st.error(f"The glossary could not be saved: {str(exc).splitlines()[0]}")
    else:
        if info is None:
            st.info("Nothing changed since the last version.")
        else:
            _set_draft(edited_glossary, info.version)
            st.success(f"Saved version {info.version}: {info.summary}")

left, middle, right = st.columns(3)
left.download_button(
    "Export YAML", glossary_store.dumps(edited_glossary, "yaml"), f"{connection}-glossary.yaml"
)
middle.download_button(
    "Export JSON", glossary_store.dumps(edited_glossary, "json"), f"{connection}-glossary.json"
)
right.download_button(
    "Export data dictionary",
    glossary_store.to_markdown(edited_glossary, target.schema, title=connection),
    f"{connection}-data-dictionary.md",
)
uploaded = st.file_uploader(
    "Import a glossary (YAML or JSON)", type=["yaml", "yml", "json"], key="profile_import"
)
if uploaded is not None and st.button(
    "Replace the editors with this file", key="profile_import_go"
):
    try:
        imported = glossary_store.loads(
            uploaded.getvalue().decode("utf-8", errors="replace"),
            "json" if uploaded.name.lower().endswith(".json") else None,
        )
    except QuarryError as exc:
        shared.show_error(exc)
    else:
        _set_draft(imported, st.session_state.get(DRAFT, {}).get("version"))
        st.rerun()

with st.expander("History"):
    try:
        versions = glossary_store.history(connection)
    except Exception as exc:
        st.warning(f"The history could not be read: {str(exc).splitlines()[0]}")
        versions = []
    if not versions:
        st.caption("No version saved yet.")
    else:
        st.dataframe(pd.DataFrame([vars(v) for v in versions]), hide_index=True, width="stretch")
