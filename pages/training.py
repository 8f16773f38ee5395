"""Training: loss charts that say whether a run converged, and data to fine-tune on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import evalsets, finetune, history, prompts, readings, training_runs
from core.diagnose import Diagnosis, diagnose
from core.errors import LogFormatError, QuarryError
from core.generate_sql import make_client
from core.losscurves import AXES, DEFAULT_SMOOTHING, loss_chart, schedule_chart
from core.losslog import ColumnChoice, read_run, table_columns
from core.lossrun import Run
from core.training_data import TrainingData, build_training_data, read_cases
from pages import shared

settings = shared.start()

TAB = "training_tab"
PENDING = "training_pending"
UPLOADED = "training_uploaded_id"
CHOSEN = "training_chosen_runs"
DATA = "training_data"
FOLLOWED = "training_followed_job"
JOBS = "training_jobs"
FINISHED = "training_finished_job"
REFRESH_S = 15
SMOOTHING = "training_smoothing"
X_AXIS = "training_x"
LOG_Y = "training_log_y"
CLIP = "training_clip"
FRESH_PER_LOG = ("training_map_", "training_save_")
# Read counters in the forms' widget keys: the browser keeps a widget's value for as long
# as its key lives, so a new file gets new keys (and its own values), not the last file's.
LOG_SEQ, READ_SEQ = "training_log_seq", "training_read_seq"


def _map_key(name: str) -> str:
    return f"training_map_{name}_{st.session_state.get(LOG_SEQ, 0)}"


def _save_key(name: str) -> str:
    return f"training_save_{name}_{st.session_state.get(READ_SEQ, 0)}"


TABS = ["Loss charts", "Training data"] + (["Fine-tuning"] if settings.has_model else [])


@dataclasses.dataclass
class Pending:
    """A log read (or failed to read) from an upload or a path, not saved yet."""

    source: bytes | str
    name: str
    run: Run | None = None
    error: QuarryError | None = None
    columns: ColumnChoice | None = None  # for a CSV or JSONL log, whose columns can be mapped


def _store_failed(exc: Exception, what: str) -> None:
    st.warning(f"{what} failed in the store: {str(exc).splitlines()[0]}")


# -- importing a log --------------------------------------------------------------


def _columns(source: bytes | str, name: str) -> ColumnChoice | None:
    try:
        return table_columns(source, name=name)
    except QuarryError:
        return None  # not a table-like log: nothing to map


def _read(source: bytes | str, name: str, columns: dict[str, str] | None = None) -> None:
    """Read a log into the pending slot; the forms below start afresh for a new file."""
    fresh = FRESH_PER_LOG if columns is None else ("training_save_",)
    for key in [k for k in st.session_state if str(k).startswith(fresh)]:
        del st.session_state[key]
    st.session_state[READ_SEQ] = st.session_state.get(READ_SEQ, 0) + 1
    if columns is None:
        st.session_state[LOG_SEQ] = st.session_state.get(LOG_SEQ, 0) + 1
    pending = Pending(source, name, columns=_columns(source, name))
    st.session_state[PENDING] = pending
    try:
        pending.run = read_run(source, name=name, columns=columns)
    except QuarryError as exc:
        pending.error = exc


def _import_section() -> None:
    st.subheader("Import a run")
    # A path reads the server's disk: fine on one's own laptop, not for a team's users.
    ways = (
        ["Upload"]
        + ([] if settings.team_mode else ["Path"])
        + (["OpenAI job"] if settings.has_model else [])
    )
    way = st.segmented_control("From", ways, default="Upload", key="training_from", required=True)
    if way == "Upload":
        upload = st.file_uploader(
            "Training log",
            key="training_upload",
            help="trainer_state.json, an OpenAI result CSV, trainer_log.jsonl, a TensorBoard "
            "events.out.tfevents.* file, or any CSV/JSONL with a step and a loss column.",
        )
        if upload is not None and st.session_state.get(UPLOADED) != upload.file_id:
            st.session_state[UPLOADED] = upload.file_id
            _read(upload.getvalue(), upload.name)
    elif way == "Path":
        with st.form("training_path_form", border=False):
            path = st.text_input(
                "Path of a log file, or of a folder of TensorBoard event files",
                key="training_path",
                placeholder="/runs/qwen-lora/trainer_state.json",
            )
            if st.form_submit_button("Read", icon=":material/upload_file:") and path.strip():
                _read(path.strip(), path.strip())
    else:
        _job_import()
    pending: Pending | None = st.session_state.get(PENDING)
    if pending is None:
        return
    if pending.error is not None:
        shared.show_error(pending.error)
    if pending.columns is not None:
        _column_mapping(pending, pending.columns)
    if pending.run is not None:
        _save_form(pending)


def _column_mapping(pending: Pending, choice: ColumnChoice) -> None:
    """Let the user say which columns hold the step and the loss, when the names are unusual."""
    needed = pending.run is None
    with st.expander("Map the columns", expanded=needed, icon=":material/table_view:"):
        if needed:
            st.caption("Quarry could not tell which column holds the loss. Pick the columns:")
        if not choice.numeric:
            st.warning("No column of this file holds numbers.")
            return
        with st.form("training_mapping_form", border=False):
            none = "(row number)"
            step_options = [none, *choice.numeric]
            step = st.selectbox(
                "Step",
                step_options,
                index=step_options.index(choice.step) if choice.step else 0,
                key=_map_key("step"),
            )
            loss_default = choice.losses[0] if choice.losses else choice.numeric[-1]
            loss = st.selectbox(
                "Train loss",
                choice.numeric,
                index=choice.numeric.index(loss_default),
                key=_map_key("loss"),
            )
            eval_options = ["(none)", *choice.numeric]
            eval_loss = st.selectbox(
                "Validation loss (optional)", eval_options, key=_map_key("eval")
            )
            if st.form_submit_button("Read with this mapping"):
                columns = {"loss": loss}
                if step != none:
                    columns["step"] = step
                if eval_loss != "(none)" and eval_loss != loss:
                    columns["eval_loss"] = eval_loss
                _read(pending.source, pending.name, columns)
                st.rerun()


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _save_form(pending: Pending) -> None:
    run = pending.run
    assert run is not None
    st.success(
        f"Read {Path(pending.name).name}: {run.format}, {run.points:,} points, "
        f"series {', '.join(run.series)}.",
        icon=":material/check_circle:",
    )
    for warning in run.warnings:
        st.warning(warning, icon=":material/warning:")
    stated = training_runs.stated_hyperparameters(run)
    label = "Save this run with its hyperparameters"
    with st.expander(label, icon=":material/save:"), st.form("training_save_form", border=False):
        st.caption("Filled in from the file where it states them; enter the others.")
        name = st.text_input("Name", value=Path(pending.name).stem[:200], key=_save_key("name"))
        values: dict[str, object] = {}
        columns = st.columns(3)
        for i, spec in enumerate(training_runs.HYPERPARAMETERS):
            where = columns[i % 3]
            if spec.kind is str:
                values[spec.key] = where.text_input(
                    spec.label,
                    value=str(stated.get(spec.key, "")),
                    help=spec.help,
                    key=_save_key(spec.key),
                )
            elif spec.kind is int:
                values[spec.key] = where.number_input(
                    spec.label,
                    min_value=1,
                    step=1,
                    value=stated.get(spec.key),
                    help=spec.help,
                    key=_save_key(spec.key),
                )
            else:
                values[spec.key] = where.number_input(
                    spec.label,
                    min_value=0.0,
                    value=_number(stated.get(spec.key)),
                    format="%.3g",
                    step=None,
                    help=spec.help,
                    key=_save_key(spec.key),
                )
        saved = st.form_submit_button("Save run", type="primary", icon=":material/save:")
    if saved:
        try:
            run_id = training_runs.save_run(run, name=name, hyperparameters=values)
        except QuarryError as exc:
            shared.show_error(exc)
            return
        except Exception as exc:  # the store is unwell; the imported run stays on screen
            _store_failed(exc, "Saving the run")
            return
        st.session_state[PENDING] = None
        st.session_state[CHOSEN] = [run_id, *st.session_state.get(CHOSEN, [])]
        st.toast(f"Saved {name}.")
        st.rerun()


# -- OpenAI jobs -----------------------------------------------------------------


def _jobs(refresh: bool = False) -> list[finetune.Job]:
    if refresh or JOBS not in st.session_state:
        try:
            st.session_state[JOBS] = finetune.list_jobs(make_client(settings))
        except QuarryError as exc:
            shared.show_error(exc)
            st.session_state[JOBS] = []
    return st.session_state[JOBS]


def _job_import() -> None:
    jobs = _jobs(st.button("Refresh the list", icon=":material/refresh:", key="training_jobs_ref"))
    if not jobs:
        st.caption("The account has no fine-tuning jobs yet.")
        return
    labels = {j.id: j.label for j in jobs}
    job_id = st.selectbox(
        "Fine-tuning job", list(labels), format_func=labels.get, key="training_job_pick"
    )
    if st.button("Import its metrics", icon=":material/download:"):
        job, run = _follow(job_id)
        if run is not None:
            st.success(f"Imported {run.points:,} points of {job_id}.")


def _follow(job_id: str) -> tuple[finetune.Job | None, Run | None]:
    """Read a job and its curves so far, and keep the curves in the store for the charts."""
    client = make_client(settings)
    try:
        job = finetune.get_job(client, job_id)
    except QuarryError as exc:
        shared.show_error(exc)
        return None, None
    try:
        run = finetune.job_run(client, job)
    except LogFormatError as exc:  # no metrics logged yet
        st.caption(f"{exc.message} {exc.hint}")
        return job, None
    except QuarryError as exc:
        shared.show_error(exc)
        return job, None
    try:
        saved = training_runs.find_job_run(job.id)
        if saved is None:
            run_id = training_runs.save_run(
                run, name=f"{job.model} · {job.id}", job_id=job.id, job_status=job.status
            )
        else:
            run_id = saved.id
            training_runs.update_run(run_id, run, job_status=job.status)
    except Exception as exc:
        _store_failed(exc, "Saving the job's metrics")
        return job, run
    chosen = st.session_state.get(CHOSEN, [])
    if run_id not in chosen:
        st.session_state[CHOSEN] = [run_id, *chosen]
    return job, run


# -- charts and diagnosis --------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=32)
def _saved_run(store_url: str, run_id: int, updated_at: str) -> Run:
    # Keyed by the store and the run's last change, so a followed job's new points show.
    return training_runs.load_run(run_id, store_url=store_url)


def _saved_runs_section() -> list[Run]:
    try:
        saved = training_runs.list_runs()
    except Exception as exc:
        _store_failed(exc, "Reading the saved runs")
        return []
    if not saved:
        return []
    by_id = {s.id: s for s in saved}
    chosen = [i for i in st.session_state.get(CHOSEN, [saved[0].id]) if i in by_id]
    st.session_state[CHOSEN] = chosen
    st.multiselect(
        "Saved runs on the chart",
        list(by_id),
        key=CHOSEN,
        format_func=lambda i: by_id[i].label,
        help="Pick several to overlay them.",
    )
    runs = []
    for run_id in st.session_state[CHOSEN]:
        try:
            runs.append(_saved_run(settings.store_url, run_id, str(by_id[run_id].updated_at)))
        except QuarryError as exc:
            shared.show_error(exc)
    with st.expander("Saved runs", icon=":material/history:"):
        st.dataframe(
            pd.DataFrame(
                {
                    "name": [s.name for s in saved],
                    "points": [s.points for s in saved],
                    "format": [s.format for s in saved],
                    "saved": [s.created_at for s in saved],
                    "job": [s.job_status and f"{s.job_id} ({s.job_status})" for s in saved],
                    **{
                        h.label: [s.hyperparameters.get(h.key) for s in saved]
                        for h in training_runs.HYPERPARAMETERS
                    },
                }
            ),
            hide_index=True,
            width="stretch",
        )
        gone = st.selectbox(
            "Delete a run",
            [None, *by_id],
            format_func=lambda i: "—" if i is None else by_id[i].label,
            key="training_delete",
        )
        if gone is not None:
            st.button("Delete", icon=":material/delete:", on_click=_delete, args=(gone,))
    return runs


def _delete(run_id: int) -> None:
    # A callback: it runs before the run picker is drawn, so the picker may still change.
    try:
        training_runs.delete_run(run_id)
    except Exception as exc:
        _store_failed(exc, "Deleting the run")
        return
    st.session_state[CHOSEN] = [i for i in st.session_state.get(CHOSEN, []) if i != run_id]
    st.session_state.pop("training_delete", None)


@st.fragment
def _charts(runs: list[Run]) -> None:
    """The view controls rerun only this part: the data and the diagnosis stay put."""
    st.session_state.setdefault(SMOOTHING, DEFAULT_SMOOTHING)
    left, middle, right = st.columns([2, 2, 3])
    smoothing = left.slider(
        "Smoothing",
        0.0,
        0.99,
        step=0.01,
        key=SMOOTHING,
        help="TensorBoard's debiased exponential moving average; the raw curve is drawn faded.",
    )
    x = middle.segmented_control("X axis", AXES, default="step", key=X_AXIS, required=True)
    log_y = right.toggle("Log axis", key=LOG_Y, help="Values of 0 or below are left out.")
    clip = right.toggle(
        "Clip outliers", key=CLIP, help="Sets the y range to leave spikes out; data unchanged."
    )
    chart = loss_chart(runs, x=x or "step", smoothing=smoothing, log_y=log_y, clip=clip)
    st.plotly_chart(chart.figure, width="stretch", key="training_loss_chart")
    for note in chart.notes:
        st.caption(note)
    if any("learning_rate" in r.series or "grad_norm" in r.series for r in runs):
        schedule = schedule_chart(runs, x=x or "step", smoothing=smoothing)
        with st.expander("Learning rate and grad norm", icon=":material/show_chart:"):
            st.plotly_chart(schedule.figure, width="stretch", key="training_lr_chart")
            for note in schedule.notes:
                st.caption(note)


def _badges(d: Diagnosis) -> None:
    if d.trend is None:
        st.badge("no finite loss", color="red")
        return
    shown = [
        ("converged", "green", d.converged),
        ("still falling", "blue", d.trend.kind == "falling"),
        ("fluctuating", "orange", d.fluctuating),
        (f"{len(d.spikes)} spikes", "orange", bool(d.spikes)),
        ("diverging", "red", d.diverging),
        ("non-finite values", "red", bool(d.non_finite)),
        (f"overfitting, best step {d.eval_min_step}", "red", d.overfitting),
        ("loss exactly zero", "red", bool(d.zero_steps)),
    ]
    text = " ".join(f":{colour}-badge[{label}]" for label, colour, on in shown if on)
    st.markdown(text or ":gray-badge[no verdict]")


def _diagnosis(run: Run) -> None:
    d = diagnose(run)
    _badges(d)
    for finding in d.findings:
        st.markdown(f"- {finding}")
    for advice in d.advice:
        st.info(advice, icon=":material/lightbulb:")
    if not run.eval_losses:
        st.caption(
            "No validation series was logged, so overfitting cannot be judged: hold out a "
            "validation file to see where the eval loss bottoms out."
        )


def _charts_tab() -> None:
    _import_section()
    st.divider()
    runs = _saved_runs_section()
    pending: Pending | None = st.session_state.get(PENDING)
    if pending is not None and pending.run is not None:
        runs = [pending.run, *runs]
    if not runs:
        st.info("Import a training log above, or pick saved runs to chart.")
        return
    _charts(runs)
    st.subheader("Diagnosis")
    for number, run in enumerate(runs):
        title = Path(run.source).name or run.source
        with st.expander(title, expanded=number == 0, icon=":material/troubleshoot:"):
            _diagnosis(run)


# -- training data -----------------------------------------------------------------


def _data_tab() -> None:
    target = shared.current_target(settings)
    if target is None:
        return
    spec = shared.current_spec(settings)
    connection = spec.name if spec else target.name
    try:
        good = history.good_runs(connection_name=connection)
    except Exception as exc:
        _store_failed(exc, "Reading the good Ask runs")
        good = []
    st.caption(
        f"Examples for {target.name} as OpenAI chat JSONL: the system message holds the schema "
        "context and glossary Ask would send for the question, the user message the question, "
        "the assistant message the SQL. Every SQL is checked and run; only those that return "
        "rows are kept."
    )
    try:
        promoted = prompts.promoted()
    except Exception:
        promoted = None
    st.caption(
        f"System messages follow prompt {promoted.label}, the one Ask uses."
        if promoted is not None
        else "System messages follow the built-in prompt (no version is promoted)."
    )
    try:
        stored_sets = [s for s in evalsets.sets() if s.cases]
    except Exception as exc:
        _store_failed(exc, "Reading the eval sets")
        stored_sets = []
    with st.form("training_data_form"):
        chosen_sets = st.multiselect(
            "Eval sets from the Prompt lab",
            stored_sets,
            format_func=lambda s: f"{s.name} ({s.cases} cases)",
            key="training_sets",
        )
        cases_file = st.file_uploader(
            "Or an eval set file: JSONL lines of {id, question, sql}", key="training_cases"
        )
        use_history = st.checkbox(
            f"Ask runs marked good on this connection ({len(good)})", value=bool(good)
        )
        use_synthetic = st.checkbox(
            "Synthetic questions from the schema",
            value=True,
            help="Counts, filters on values found in the data, group-bys, aggregates, top-N and "
            "joins along foreign keys.",
        )
        paraphrases = 0
        if settings.has_model:
            paraphrases = st.number_input(
                "Paraphrases per question",
                0,
                5,
                0,
                help=f"Asks {settings.model} to reword each question; one model call each.",
            )
        share = st.slider(
            "Validation share",
            0.0,
            0.5,
            float(settings.validation_share),
            0.05,
            help="Put in the validation file; all questions of one SQL stay on one side. "
            "The default comes from QUARRY_VALIDATION_SHARE.",
        )
        built = st.form_submit_button(
            "Build training data", type="primary", icon=":material/build:"
        )
    if built:
        stored = [c.to_json() for chosen in chosen_sets for c in evalsets.cases(chosen.id) if c.sql]
        _build(
            target,
            cases_file,
            stored,
            good if use_history else [],
            use_synthetic,
            paraphrases,
            share,
            readings.connection_glossary(connection),
        )
    data: TrainingData | None = st.session_state.get(DATA)
    if data is not None:
        _data_summary(data)


def _promoted_template() -> str:
    try:
        return prompts.promoted_template()
    except Exception as exc:  # the built-in prompt still makes good examples
        _store_failed(exc, "Reading the promoted prompt")
        return prompts.DEFAULT_TEMPLATE


def _build(
    target, cases_file, stored, good, use_synthetic: bool, paraphrases: int, share: float, glossary
) -> None:
    with st.status("Building training data…", expanded=False) as status:
        try:
            cases = list(stored)
            if cases_file:
                cases += read_cases(cases_file.getvalue(), cases_file.name)
            data = build_training_data(
                target,
                settings,
                cases=cases,
                history=good,
                synthetic=use_synthetic,
                paraphrases=int(paraphrases),
                client=make_client(settings) if paraphrases else None,
                # the connection's glossary and the promoted prompt, as Ask sends them
                glossary=glossary,
                template=_promoted_template(),
                validation_share=share,
                progress=lambda text: status.update(label=text[:120]),
            )
        except QuarryError as exc:
            status.update(label="Could not build training data", state="error")
            shared.show_error(exc)
            return
        status.update(
            label=f"Built {len(data.train)} train and {len(data.validation)} validation examples",
            state="complete",
        )
    st.session_state[DATA] = data


def _spread_chart(data: TrainingData) -> go.Figure:
    rows = data.summary()
    figure = go.Figure(
        [
            go.Bar(
                name=part, x=[r["table"] for r in rows], y=[r[part] for r in rows], marker_color=c
            )
            for part, c in (("train", "#1f77b4"), ("validation", "#ff7f0e"))
        ]
    )
    figure.update_layout(
        barmode="stack",
        template="plotly_white",
        height=260,
        margin={"t": 30, "b": 10, "l": 10, "r": 10},
        yaxis_title="examples",
        title={"text": "Examples per table", "font": {"size": 13}},
    )
    return figure


def _data_summary(data: TrainingData) -> None:
    a, b, c, d = st.columns(4)
    a.metric("Train examples", len(data.train))
    b.metric("Validation examples", len(data.validation))
    c.metric("Dropped", len(data.dropped), help="Queries that failed or returned no rows.")
    d.metric("Duplicates removed", data.duplicates)
    for warning in data.warnings:
        st.warning(warning)
    if not data.examples:
        st.warning("No example ran and returned rows, so there is nothing to download.")
        return
    st.caption(
        "By source: "
        + ", ".join(f"{k} {v}" for k, v in data.by_source().items())
        + " · by kind: "
        + ", ".join(f"{k} {v}" for k, v in data.by_kind().items())
    )
    st.dataframe(pd.DataFrame(data.summary()), hide_index=True, width="stretch")
    st.caption("A join counts under each table it reads.")
    st.plotly_chart(_spread_chart(data), width="stretch", key="training_spread")
    for column, part in zip(st.columns(2), ("train", "validation"), strict=True):
        column.download_button(
            f"Download {part} JSONL",
            data.jsonl(part),
            file_name=f"quarry-{part}.jsonl",
            mime="application/jsonl",
            icon=":material/download:",
            disabled=not getattr(data, part),
        )
    if data.dropped:
        with st.expander(f"{len(data.dropped)} dropped", icon=":material/filter_alt_off:"):
            st.dataframe(
                pd.DataFrame([dataclasses.asdict(x) for x in data.dropped]),
                hide_index=True,
                width="stretch",
            )
    with st.expander("First examples", icon=":material/visibility:"):
        for example in data.examples[:5]:
            st.markdown(f"**{example.question}** · {example.source}, {example.kind}")
            st.code(example.sql, language="sql")


# -- fine-tuning -----------------------------------------------------------------


def _tune_tab() -> None:
    data: TrainingData | None = st.session_state.get(DATA)
    st.caption(f"Fine-tuning through {settings.openai_base_url or 'api.openai.com'}.")
    if data is None or not data.train:
        st.info("Build training data first (the Training data tab); it is uploaded from there.")
    else:
        _start_form(data)
    st.divider()
    st.subheader("Follow a job")
    jobs = _jobs(st.button("Refresh the list", icon=":material/refresh:", key="training_tune_ref"))
    labels = {j.id: j.label for j in jobs}
    followed = st.session_state.get(FOLLOWED)
    if followed and followed not in labels:
        labels[followed] = followed
    if not labels:
        st.caption("The account has no fine-tuning jobs yet.")
        return
    st.selectbox("Job", list(labels), format_func=labels.get, key=FOLLOWED)
    _follow_view()


def _start_form(data: TrainingData) -> None:
    with st.form("training_tune_form"):
        st.caption(
            f"{len(data.train)} train and {len(data.validation)} validation examples are "
            "uploaded, then a supervised fine-tuning job starts."
        )
        model = st.text_input("Base model", value=finetune.DEFAULT_BASE_MODEL)
        field, why = st.columns([1, 2])
        epochs = field.number_input(
            "Epochs", 1, 20, finetune.DEFAULT_EPOCHS, key="training_tune_epochs"
        )
        why.caption(finetune.EPOCHS_HELP)
        field, why = st.columns([1, 2])
        multiplier = field.number_input(
            "Learning-rate multiplier",
            0.01,
            10.0,
            finetune.DEFAULT_LR_MULTIPLIER,
            0.05,
            format="%.2f",
            key="training_tune_lr",
        )
        why.caption(finetune.LR_HELP)
        field, why = st.columns([1, 2])
        batch = field.number_input("Batch size", 0, 256, 0)
        why.caption(finetune.BATCH_HELP)
        suffix = st.text_input("Model name suffix", value="quarry", max_chars=64)
        started = st.form_submit_button(
            "Upload and start fine-tuning", type="primary", icon=":material/rocket_launch:"
        )
    if not started:
        return
    try:
        with st.spinner("Uploading the files and starting the job…"):
            job = finetune.start_job(
                make_client(settings),
                training=data.jsonl("train"),
                validation=data.jsonl("validation"),
                model=model.strip(),
                epochs=int(epochs),
                learning_rate_multiplier=float(multiplier),
                batch_size=int(batch) or None,
                suffix=suffix.strip(),
            )
    except QuarryError as exc:
        shared.show_error(exc)
        return
    st.session_state[FOLLOWED] = job.id
    st.session_state.pop(JOBS, None)
    st.success(f"Started {job.id} ({job.status}).", icon=":material/rocket_launch:")


def _follow_view() -> None:
    """The followed job's status and curves; while it runs they refresh on their own."""
    job_id = st.session_state.get(FOLLOWED)
    if not job_id:
        return
    if st.session_state.get(FINISHED) == job_id:
        _job_view(job_id)
    else:
        _live_job_view(job_id)


@st.fragment(run_every=REFRESH_S)
def _live_job_view(job_id: str) -> None:
    job = _job_view(job_id)
    if job is not None and job.finished:
        st.session_state[FINISHED] = job_id
        st.rerun()  # the whole page, so the finished job stops polling


def _job_view(job_id: str) -> finetune.Job | None:
    job, run = _follow(job_id)
    if job is None:
        return None
    st.markdown(f"**{job.id}** · {job.model} · `{job.status}`")
    if job.fine_tuned_model:
        st.success(f"Fine-tuned model: `{job.fine_tuned_model}`", icon=":material/check_circle:")
    if job.error:
        st.error(job.error)
    if run is not None:
        chart = loss_chart(run)
        st.plotly_chart(chart.figure, width="stretch", key="training_job_chart")
        live = "" if job.finished else f" Refreshing every {REFRESH_S} s."
        st.caption(chart.caption + live)
        _diagnosis(run)
    return job


st.title("Training")
tabs = st.tabs(TABS, key=TAB, on_change="rerun")
if tabs[0].open:
    with tabs[0]:
        _charts_tab()
if tabs[1].open:
    with tabs[1]:
        _data_tab()
if len(tabs) > 2 and tabs[2].open:
    with tabs[2]:
        _tune_tab()
