"""Prompt lab: write prompt versions, see what the model will see, measure versions on eval sets."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from core import eval_runs, evalsets, history, prompts, readings
from core.ambiguity import check_target
from core.ask import build_prompt
from core.errors import QuarryError
from core.generate_sql import make_client
from core.prompt_check import PromptFinding, apply_finding, check_prompt, critic_findings
from pages import shared

settings = shared.start()

VERSION = "lab_version"
DRAFT = "lab_draft"  # the draft's text
DRAFT_OF = "lab_draft_of"  # the version it started from
DRAFT_SEQ = "lab_draft_seq"  # bumped when the page itself rewrites the draft
DRAFT_FINDINGS = "lab_draft_findings"
NOTE = "lab_note"
SAVED = "lab_saved"
AUTHOR = "lab_author"
CRITIC = "lab_critic"
PREVIEW = "lab_preview"
SET = "lab_set"
JOB = "lab_job"
BATCH = "lab_batch"
OFFLINE = "Offline engine"

st.title("Prompt lab")
target = shared.current_target(settings)
if target is None:
    st.stop()
spec = shared.current_spec(settings)
connection_name = spec.name if spec else target.name
dialect_name = target.server.description.split(" ")[0]

try:
    prompts.ensure_built_in()
    all_versions = prompts.versions()
    promoted = prompts.promoted()
except Exception as exc:  # the store is unwell: say so, keep the page up
    st.error(f"The prompt versions could not be read from the store: {str(exc).splitlines()[0]}")
    st.stop()
by_id = {v.id: v for v in all_versions}
promoted_id = promoted.id if promoted else None


def _version_label(version_id: int) -> str:
    # nothing that changes (such as being promoted) goes in a label: an open select keeps it
    v = by_id[version_id]
    note = v.note if len(v.note) <= 60 else v.note[:57] + "…"
    return f"{v.label} — {note}"


def _highlighted(template: str, findings: list[PromptFinding]) -> str:
    """The template as HTML, each finding's span marked, its message on hover."""
    parts, at = [], 0
    for f in sorted(findings, key=lambda f: (f.start, f.end)):
        if f.start < at:
            continue
        parts.append(html.escape(template[at : f.start]))
        title = html.escape(f"{f.kind}: {f.message}", quote=True)
        if f.end > f.start:
            parts.append(f'<mark title="{title}">{html.escape(template[f.start : f.end])}</mark>')
        else:
            parts.append(f'<mark title="{title}">⟨missing⟩</mark>')
        at = max(at, f.end)
    parts.append(html.escape(template[at:]))
    return (
        '<pre style="white-space: pre-wrap; font-size: 0.85rem; padding: 0.75rem; margin: 0; '
        "border-radius: 0.5rem; background: rgba(128,128,128,0.08); font-family: "
        'ui-monospace, monospace">' + "".join(parts) + "</pre>"
    )


def _show_findings(
    template: str,
    findings: list[PromptFinding],
    *,
    key: str,
    apply_to: str | None = None,
    show_text: bool = False,
) -> None:
    if not findings:
        if show_text:
            st.code(template, language=None, wrap_lines=True)
        st.success("No findings: the checks see nothing left open.", icon=":material/check:")
        return
    st.html(_highlighted(template, findings))
    for i, f in enumerate(findings):
        where = f"“{f.text}”" if f.text else "(missing)"
        source = " · critic" if f.source == "critic" else ""
        left, right = st.columns([5, 1])
        left.markdown(f"**{f.kind}**{source} {where}: {f.message}  \n_{f.suggestion}_")
        if apply_to and f.replacement is not None:
            right.button(
                "Apply",
                key=f"{key}_apply_{i}",
                on_click=_apply,
                args=(apply_to, f),
                help=f"Put “{f.replacement.strip()}” in its place",
            )


def _apply(state_key: str, finding: PromptFinding) -> None:
    st.session_state[state_key] = apply_finding(st.session_state[state_key], finding)
    st.session_state[DRAFT_SEQ] = st.session_state.get(DRAFT_SEQ, 0) + 1
    st.session_state.pop(DRAFT_FINDINGS, None)


def _promotion_notes(version_id: int, promoted: int | None) -> list[str]:
    try:
        return eval_runs.promotion_notes(version_id, promoted)
    except Exception as exc:  # the notes inform; reading them must not stop the page
        return [f"The eval runs could not be read: {str(exc).splitlines()[0]}"]


def _check(template: str) -> list[PromptFinding]:
    return check_prompt(template, schema=target.schema, dialect_name=dialect_name)


versions_tab, preview_tab, sets_tab, runs_tab = st.tabs(
    ["Versions", "Preview", "Eval sets", "Runs"], key="lab_tab"
)

# -- versions -------------------------------------------------------------------------------

with versions_tab:
    if SAVED in st.session_state:
        st.session_state[VERSION] = st.session_state.pop(SAVED)
        st.session_state[NOTE] = ""
    if st.session_state.get(VERSION) not in by_id:
        st.session_state[VERSION] = promoted_id or all_versions[0].id
    st.caption(
        f"Ask's model engine uses {by_id[promoted_id].label}."
        if promoted_id in by_id
        else "Ask's model engine uses the built-in template until a version is promoted."
    )
    st.selectbox("Version", list(by_id), key=VERSION, format_func=_version_label)
    version = by_id[st.session_state[VERSION]]
    parent = f"from {by_id[version.parent_id].label}" if version.parent_id in by_id else "first"
    st.caption(
        f"{version.label} · {parent} · {version.author or 'unknown author'} · "
        f"{version.created_at:%Y-%m-%d %H:%M}"
    )
    st.markdown(f"**Why:** {version.note}")
    left, right = st.columns([1, 1])
    if version.id == promoted_id:
        left.success("This version is the one Ask uses.", icon=":material/star:")
    else:
        for note in _promotion_notes(version.id, promoted_id):
            st.warning(note, icon=":material/science:")
        if left.button("Promote to Ask", key="lab_promote", icon=":material/star:", type="primary"):
            prompts.promote(version.id, author=st.session_state.get(AUTHOR) or None)
            st.toast(f"{version.label} is now used by Ask.")
            st.rerun()
    with st.expander("Diff against its parent", expanded=version.parent_id is not None):
        difference = prompts.diff(version)
        if difference:
            st.code(difference, language="diff")
        else:
            st.caption("The first version has no parent.")
    with st.expander("Text and checks", expanded=True):
        _show_findings(version.text, _check(version.text), key="lab_version_check", show_text=True)
        critic = st.session_state.get(CRITIC, {}).get(version.id)
        if settings.has_model and st.button(
            "Ask the model for its review", key="lab_critic_button", icon=":material/reviews:"
        ):
            try:
                with st.spinner("The model is reading the prompt…"):
                    critic = critic_findings(version.text, make_client(settings), settings)
                st.session_state.setdefault(CRITIC, {})[version.id] = critic
            except QuarryError as exc:
                shared.show_error(exc)
        if critic is not None:
            st.markdown("**The model's review**")
            _show_findings(version.text, critic, key="lab_critic_findings")

    st.subheader("Write a new version")
    if st.session_state.get(DRAFT_OF) != version.id or DRAFT not in st.session_state:
        st.session_state[DRAFT] = version.text
        st.session_state[DRAFT_OF] = version.id
        st.session_state.pop(DRAFT_FINDINGS, None)
    # The box gets its text as its default under a key of its own, never through session
    # state: a value set that way is lost in the browser when a click cuts the run short.
    box = f"lab_draft_box_{version.id}_{st.session_state.get(DRAFT_SEQ, 0)}"
    st.caption(
        "Placeholders: {dialect} {server_version} {schema} {glossary} {examples} {question}. "
        "A line `---` splits the system part from the user part."
    )
    with st.form("lab_write"):
        st.session_state[DRAFT] = st.text_area(
            "Template", value=st.session_state[DRAFT], key=box, height=320
        )
        st.text_input("Why it changed", key=NOTE, placeholder="Say which cases this should fix")
        st.text_input("Author", key=AUTHOR)
        check_col, save_col = st.columns(2)
        checked = check_col.form_submit_button("Check the draft", icon=":material/rule:")
        saved = save_col.form_submit_button(
            f"Save as a new version of {version.label}", type="primary", icon=":material/save:"
        )
    if checked:
        st.session_state[DRAFT_FINDINGS] = _check(st.session_state[DRAFT])
    if saved:
        try:
            new = prompts.create_version(
                st.session_state[DRAFT],
                parent_id=version.id,
                note=st.session_state.get(NOTE, ""),
                author=st.session_state.get(AUTHOR) or None,
            )
        except QuarryError as exc:
            shared.show_error(exc)
        else:
            # the widgets are drawn already; they take the new values on the rerun
            st.session_state[SAVED] = new.id
            st.toast(f"Saved {new.label}.")
            st.rerun()
    if DRAFT_FINDINGS in st.session_state:
        _show_findings(
            st.session_state[DRAFT],
            st.session_state[DRAFT_FINDINGS],
            key="lab_draft_check",
            apply_to=DRAFT,
        )

# -- preview ------------------------------------------------------------------------------

with preview_tab:
    st.caption(
        f"What the model is sent for one question on **{connection_name}**: the schema "
        f"context chosen within {settings.context_budget_tokens:,} tokens "
        "(QUARRY_CONTEXT_BUDGET_TOKENS), the glossary and the question."
    )
    if (
        st.session_state.get("lab_preview_follows") != st.session_state[VERSION]
        or st.session_state.get("lab_preview_version") not in by_id
    ):
        # the preview starts from the version picked (or just written) on the Versions tab
        st.session_state["lab_preview_version"] = st.session_state[VERSION]
        st.session_state["lab_preview_follows"] = st.session_state[VERSION]
    with st.form("lab_preview_form"):
        st.selectbox("Version", list(by_id), key="lab_preview_version", format_func=_version_label)
        st.text_input(
            "Question", key="lab_preview_question", placeholder="How many tracks are in each genre?"
        )
        previewed = st.form_submit_button("Preview", icon=":material/visibility:")
    if previewed:
        question = (st.session_state.get("lab_preview_question") or "").strip()
        if not question:
            st.warning("Type a question to preview the prompt for.")
        else:
            chosen = by_id[st.session_state["lab_preview_version"]]
            try:
                glossary = readings.connection_glossary(connection_name)
                with st.spinner("Choosing the schema context…"):
                    prompt = build_prompt(
                        question, target, settings, glossary=glossary, template=chosen.text
                    )
                    check = check_target(question, target, glossary=glossary)
                st.session_state[PREVIEW] = (chosen.label, question, prompt, check)
            except QuarryError as exc:
                shared.show_error(exc)
    if PREVIEW in st.session_state:
        label, question, prompt, check = st.session_state[PREVIEW]
        context = prompt.context
        a, b, c = st.columns(3)
        a.metric("Prompt tokens", f"{prompt.tokens:,}")
        b.metric("Schema tokens", f"{context.tokens:,} of {context.budget:,}")
        c.metric("Tables", f"{len(context.tables)}")
        st.caption(f"{label} for “{question}”: " + ", ".join(context.tables))
        if context.note:
            st.info(context.note, icon=":material/content_cut:")
        if not check.clear:
            st.warning(
                "The question leaves things open: " + " ".join(f.message for f in check.findings),
                icon=":material/help:",
            )
        for message in prompt.messages:
            st.markdown(f"**{message['role']}**")
            st.code(message["content"], language=None, wrap_lines=True)

# -- eval sets ----------------------------------------------------------------------------

with sets_tab:
    try:
        known_sets = evalsets.sets()
    except Exception as exc:
        st.error(f"The eval sets could not be read: {str(exc).splitlines()[0]}")
        known_sets = []
    set_names = {s.id: s.name for s in known_sets}
    with st.expander("New eval set", expanded=not known_sets):
        with st.form("lab_new_set", border=False):
            st.text_input("Name", key="lab_new_set_name", placeholder="chinook-basics")
            st.text_input("Description", key="lab_new_set_description")
            created = st.form_submit_button("Create", icon=":material/add:")
        if created:
            try:
                made = evalsets.create_set(
                    st.session_state.get("lab_new_set_name", ""),
                    st.session_state.get("lab_new_set_description", ""),
                )
            except QuarryError as exc:
                shared.show_error(exc)
            else:
                st.session_state[SET] = made.id
                st.rerun()
    if known_sets:
        if st.session_state.get(SET) not in set_names:
            st.session_state[SET] = known_sets[0].id
        st.selectbox("Eval set", list(set_names), key=SET, format_func=set_names.get)
        current_set = st.session_state[SET]
        set_cases = evalsets.cases(current_set)
        st.caption(
            f"{len(set_cases)} cases · {sum(1 for c in set_cases if c.sql)} with gold SQL · "
            f"{sum(1 for c in set_cases if c.ambiguous is not None)} with an ambiguity flag"
        )
        if set_cases:
            st.dataframe(
                pd.DataFrame(
                    {
                        "id": [c.key for c in set_cases],
                        "question": [c.question for c in set_cases],
                        "gold SQL": [c.sql or "" for c in set_cases],
                        "ambiguous": [c.ambiguous for c in set_cases],
                        "from": [c.source for c in set_cases],
                    }
                ),
                hide_index=True,
                use_container_width=True,
            )
        else:
            st.caption("No cases yet: import a JSONL file, add one, or take one from the history.")
        upload_col, export_col = st.columns([3, 1])
        with upload_col:
            upload = st.file_uploader(
                "Import JSONL",
                type=["jsonl", "json", "txt"],
                key="lab_upload",
                help='One case a line: {"id", "question", "sql", "ambiguous"}, as '
                "python -m core eval reads.",
            )
            if upload is not None and st.button("Import these cases", key="lab_import"):
                try:
                    text = upload.getvalue().decode("utf-8")
                    added = evalsets.import_jsonl(current_set, text, name=upload.name)
                except UnicodeDecodeError:
                    st.error(f"{upload.name} is not UTF-8 text.")
                except QuarryError as exc:
                    shared.show_error(exc)
                else:
                    st.toast(f"Imported {len(added)} cases.")
                    st.rerun()
        export_col.download_button(
            "Export JSONL",
            evalsets.export_jsonl(current_set),
            file_name="eval-set.jsonl",
            mime="application/jsonl",
            icon=":material/download:",
            disabled=not set_cases,
        )
        if st.session_state.pop("lab_case_added", False):
            # a fresh form for the next case; a refused one keeps what was typed
            st.session_state["lab_case_question"] = st.session_state["lab_case_sql"] = ""
            st.session_state["lab_case_ambiguous"] = "not marked"
        with st.form("lab_add_case"):
            st.markdown("**Add a case**")
            st.text_input("Question", key="lab_case_question")
            st.text_area("Gold SQL", key="lab_case_sql", height=90)
            st.selectbox("Ambiguous?", ["not marked", "yes", "no"], key="lab_case_ambiguous")
            added_case = st.form_submit_button("Add the case", icon=":material/add:")
        if added_case:
            flag = {"yes": True, "no": False}.get(st.session_state["lab_case_ambiguous"])
            try:
                evalsets.add_case(
                    current_set,
                    st.session_state.get("lab_case_question", ""),
                    st.session_state.get("lab_case_sql", ""),
                    ambiguous=flag,
                )
            except QuarryError as exc:
                shared.show_error(exc)
            else:
                st.session_state["lab_case_added"] = True
                st.rerun()
        with st.expander("From the Ask history (runs marked good)"):
            keys = {c.key for c in set_cases}
            good = [
                r
                for r in history.good_runs(connection_name=connection_name)
                if f"history{r.id}" not in keys
            ]
            if not good:
                st.caption(f"No unused runs marked good on {connection_name}.")
            for run in good[:30]:
                left, right = st.columns([5, 1])
                left.markdown(f"**{run.question}**  \n`{(run.sql or '').splitlines()[0][:90]}`")
                if right.button("Add", key=f"lab_from_history_{run.id}"):
                    try:
                        evalsets.add_from_history(current_set, run.id)
                    except QuarryError as exc:
                        shared.show_error(exc)
                    else:
                        st.rerun()

# -- runs ---------------------------------------------------------------------------------


def _side_options() -> list[str]:
    options = [OFFLINE]
    if settings.has_model:
        options += [str(v) for v in by_id]
    return options


def _side_label(option: str) -> str:
    if option == OFFLINE:
        return OFFLINE
    if option == "":
        return "(none)"
    return _version_label(int(option))


def _side(option: str) -> eval_runs.Side:
    if option == OFFLINE:
        return eval_runs.OFFLINE
    return eval_runs.model_side(by_id[int(option)], settings.model)


def _start_run(set_id: int, options: list[str]) -> None:
    try:
        job = eval_runs.RunJob(
            set_id,
            [_side(o) for o in options],
            target,
            settings,
            connection_name=connection_name,
            glossary=readings.connection_glossary(connection_name),
            author=st.session_state.get(AUTHOR) or None,
        ).start()
    except QuarryError as exc:
        shared.show_error(exc)
        return
    st.session_state[JOB] = job
    st.session_state[BATCH] = job.progress.batch


@st.fragment(run_every=1.0)
def _progress() -> None:
    job: eval_runs.RunJob | None = st.session_state.get(JOB)
    if job is None:
        return
    progress = job.snapshot()
    if progress.finished:
        st.session_state.pop(JOB)
        if progress.status == "failed":
            st.session_state["lab_run_error"] = progress.error
        st.rerun(scope="app")
    st.progress(
        progress.fraction,
        text=f"{progress.done} of {progress.total} answers · {progress.current}",
    )
    if st.button("Stop", key="lab_stop", icon=":material/stop:"):
        job.stop()
        st.caption("Stopping after the answer in hand…")


def _flat(sql: str | None) -> str:
    return " ".join((sql or "").split())


def _show_case(row: eval_runs.Comparison, a: eval_runs.SavedRun, b: eval_runs.SavedRun) -> None:
    st.markdown(f"**{row.key}** · {row.question}")
    st.code(row.gold_sql or "", language="sql")
    for side, result in ((a, row.a), (b, row.b)):
        with st.container(border=True):
            if result is None:
                st.caption(f"{side.label}: not run")
                continue
            st.markdown(f"**{side.label}**: {result.status} · {result.duration_ms:,.0f} ms")
            if result.sql:
                st.code(result.sql, language="sql")
            if result.error:
                st.caption(result.error)


def _show_batch(batch: eval_runs.Batch) -> None:
    runs = [eval_runs.load_run(i) for i in batch.run_ids]
    answered = sum(len(r.results) for r in runs)
    st.caption(
        f"{runs[0].status.capitalize()} · {answered} of {sum(r.case_count for r in runs)} answers"
        f" · run on {batch.connection_name}"
    )
    st.dataframe(
        pd.DataFrame([r.summary(settings) for r in runs]).rename(
            columns={
                "cases": "answered",
                "of": "cases in set",
                "accuracy": "execution accuracy",
                "mean_latency_ms": "mean latency (ms)",
                "prompt_tokens": "prompt tokens",
                "completion_tokens": "completion tokens",
                "cost_usd": "cost (USD)",
            }
        ),
        hide_index=True,
        use_container_width=True,
    )
    if any(r.cost_usd(settings) is None for r in runs):
        st.caption("No price is known for this model: tokens only (QUARRY_MODEL_PRICES).")
    promotable = [
        r for r in runs if r.prompt_version_id in by_id and r.prompt_version_id != promoted_id
    ]
    for column, run in zip(st.columns(max(len(promotable), 1) + 2), promotable, strict=False):
        label = by_id[run.prompt_version_id].label
        if column.button(
            f"Promote {label} to Ask", key=f"lab_promote_run_{run.id}", icon=":material/star:"
        ):
            prompts.promote(run.prompt_version_id, author=st.session_state.get(AUTHOR))
            st.toast(f"{label} is now used by Ask.")
            st.rerun()
    if len(runs) == 2:
        a, b = runs
        rows = eval_runs.compare(a, b)
        disagree = sum(r.disagree for r in rows)
        st.markdown(f"**{disagree} case(s) where the two disagree**, listed first.")
        picked = st.dataframe(
            pd.DataFrame(
                {
                    "differ": ["≠" if r.disagree else "" for r in rows],
                    "id": [r.key for r in rows],
                    "question": [r.question for r in rows],
                    f"A: {a.label}": [r.a.status if r.a else "—" for r in rows],
                    f"B: {b.label}": [r.b.status if r.b else "—" for r in rows],
                    "A SQL": [_flat(r.a.sql or r.a.error) if r.a else "" for r in rows],
                    "B SQL": [_flat(r.b.sql or r.b.error) if r.b else "" for r in rows],
                    "gold SQL": [_flat(r.gold_sql) for r in rows],
                }
            ),
            hide_index=True,
            use_container_width=True,
            column_config={"differ": st.column_config.TextColumn(width="small")},
            on_select="rerun",
            selection_mode="single-row",
            key=f"lab_compare_{batch.batch}",
        )
        chosen = picked.selection.rows if picked is not None else []
        if chosen:
            _show_case(rows[chosen[0]], a, b)
        else:
            st.caption("Pick a row to see both answers in full.")
    else:
        (run,) = runs
        st.dataframe(
            pd.DataFrame(
                {
                    "id": [r.key for r in run.results],
                    "question": [r.question for r in run.results],
                    "result": [r.status for r in run.results],
                    "SQL": [_flat(r.sql) for r in run.results],
                    "error": [r.error or "" for r in run.results],
                    "ms": [round(r.duration_ms) for r in run.results],
                    "tokens": [r.prompt_tokens + r.completion_tokens for r in run.results],
                }
            ),
            hide_index=True,
            use_container_width=True,
        )


with runs_tab:
    runnable = [s for s in known_sets if s.cases]
    if not runnable:
        st.info("Create an eval set with cases first (Eval sets tab).")
    else:
        if not settings.has_model:
            st.caption(
                "No model is configured, so only the offline engine can run. Set "
                "OPENAI_API_KEY (and OPENAI_BASE_URL for a local server) to run prompt versions."
            )
        with st.form("lab_run_form"):
            st.selectbox(
                "Eval set",
                [s.id for s in runnable],
                key="lab_run_set",
                format_func=set_names.get,
            )
            options = _side_options()
            left, right = st.columns(2)
            left.selectbox("A", options, key="lab_side_a", format_func=_side_label)
            right.selectbox(
                "B (optional)", ["", *options], key="lab_side_b", format_func=_side_label
            )
            st.caption(f"Against {connection_name}; model versions use {settings.model}.")
            run_clicked = st.form_submit_button(
                "Run",
                type="primary",
                icon=":material/play_arrow:",
                disabled=st.session_state.get(JOB) is not None,
            )
        if run_clicked and st.session_state.get(JOB) is None:
            chosen = [st.session_state["lab_side_a"]]
            if st.session_state.get("lab_side_b"):
                chosen.append(st.session_state["lab_side_b"])
            _start_run(st.session_state["lab_run_set"], chosen)
        _progress()
        if st.session_state.get("lab_run_error"):
            st.error(f"The run failed: {st.session_state.pop('lab_run_error')}")

    saved = eval_runs.batches()
    if saved:
        st.subheader("Saved runs")
        # no status in the label: a label that changes under an open select is not redrawn
        labels = {
            b.batch: f"{b.created_at:%Y-%m-%d %H:%M:%S} · {' vs '.join(b.labels)} · "
            f"{set_names.get(b.set_id, 'deleted set')} · {b.connection_name}"
            for b in saved
        }
        if st.session_state.get(BATCH) not in labels:
            st.session_state[BATCH] = saved[0].batch
        st.selectbox("Open", list(labels), key=BATCH, format_func=labels.get)
        opened = next(b for b in saved if b.batch == st.session_state[BATCH])
        _show_batch(opened)
        if opened.status == "running" and st.session_state.get(JOB) is None:
            st.caption("This run is still going (started elsewhere): it fills in as it goes.")
