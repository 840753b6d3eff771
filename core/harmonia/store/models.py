"""The harmonized database: sqlmodel tables.

Fact tables that grow with the universe (customers, identifiers, crosswalk,
metrics, answers, assignments) are written in bulk through
:mod:`harmonia.store.bulk`; the ORM is for the few rows a person works with
(load batches, cycles, audit events). The fact tables declare no foreign
keys: the loader and the cycle engine are their only writers and resolve
every reference before writing, and on PostgreSQL each foreign key costs a
trigger call per row of a million-row load. Every fact records the load batch it
came from, and so its source and time. JSON payloads are stored as text so
that the same bulk path writes them on every engine.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint, text
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LoadBatch(SQLModel, table=True):
    """One load of one kind of records from one location through one source."""

    __tablename__ = "load_batch"

    id: int | None = Field(default=None, primary_key=True)
    source: str
    system: str = Field(description="the system whose ids the records use (crosswalk key)")
    kind: str
    location: str
    country: str | None = None
    status: str = "running"
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    actor: str = ""
    started_at: dt.datetime = Field(default_factory=_now)
    finished_at: dt.datetime | None = None
    owner: str | None = Field(
        default=None, description="host:pid:start of the process running it, while it runs"
    )
    content_hash: str | None = Field(default=None, description="SHA-256 of the file loaded")
    golden_owed: bool = Field(
        default=False,
        sa_column_kwargs={"server_default": sa_false()},
        description="a customers batch whose persons' golden records are not refreshed yet",
    )


class FactFiles(SQLModel, table=True):
    """How many files a load batch wrote for one fact table, recorded at its commit.

    Per fact table, not per batch: a batch of one kind may write several fact
    tables (a responses load writes ``response`` and ``answer``), and a reader
    of one table checks that table's files. Only a store that keeps its facts
    as files (:mod:`harmonia.store.facts`) has rows here.
    """

    __tablename__ = "fact_files"
    __table_args__ = ({"sqlite_with_rowid": False},)

    batch_id: int = Field(primary_key=True)
    fact_table: str = Field(primary_key=True)
    files: int | None = Field(
        default=None, description="None: unknown, the files were missing at the 0610 upgrade"
    )


class FactIdMark(SQLModel, table=True):
    """The highest id ever given to a fact table's rows, which erasure never lowers.

    A store that keeps its facts as files (:mod:`harmonia.store.facts`) would
    otherwise give ids from the rows it still holds, and so give an erased
    response's id to another person's; PostgreSQL's sequences never reuse one.
    Raised in the transaction that commits the load batch.
    """

    __tablename__ = "fact_id_mark"

    fact_table: str = Field(primary_key=True)
    last_id: int


class Customer(SQLModel, table=True):
    """A customer (HCP or HCO) with one stable harmonia id.

    One secondary index only: every index costs each of the million rows a
    load appends, and a cycle reads a country's customers as a whole.
    """

    __tablename__ = "customer"

    id: int | None = Field(default=None, primary_key=True)
    country: str = Field(max_length=2, index=True)
    type: str = Field(max_length=3)
    first_name: str | None = None
    last_name: str | None = None
    specialty: str | None = None
    postal_code: str | None = None
    city: str | None = None
    territory: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    first_batch_id: int
    batch_id: int


class Identifier(SQLModel, table=True):
    """A validated national identifier: (scheme, value) names one customer.

    A customer has at most one value per scheme; the loader replaces a changed one.
    """

    __tablename__ = "identifier"
    __table_args__ = ({"sqlite_with_rowid": False},)

    scheme: str = Field(primary_key=True)
    value: str = Field(primary_key=True)
    customer_id: int = Field(index=True)
    batch_id: int


HARMONIA_IDS = "harmonia"
"""The system name of harmonia's own customer ids, which no source system may take."""


class Crosswalk(SQLModel, table=True):
    """(system, source id) -> harmonia id: how each source knows a customer.

    ``row_hash`` fingerprints the source record's row as last loaded, so that
    a refresh passes over the rows it gives again as they were, without
    checking and merging them (:mod:`harmonia.ingest.customers`). NULL: compare
    the next row in full (loaded before 0800, or its customer changed since
    by another system's row).
    """

    __tablename__ = "crosswalk"
    __table_args__ = ({"sqlite_with_rowid": False},)

    system: str = Field(primary_key=True)
    source_id: str = Field(primary_key=True)
    customer_id: int = Field(index=True)
    batch_id: int
    row_hash: int | None = Field(default=None, sa_type=BigInteger)


class CustomerAttributeHistory(SQLModel, table=True):
    """What each source record said of a customer, batch by batch: provenance per value.

    One row per source record (system, source id; the crosswalk maps it to
    its harmonia id) and load batch that changed one of its attributes, with
    the values that batch gave or changed; NULL: unchanged (a blank cell in a
    file keeps the value, as the loader does). A record's value of an
    attribute as of batch N is its last non-NULL value in a row up to N,
    given by that row's batch and so by its source system: golden records
    pick among them (:mod:`harmonia.master.golden`), the quality report
    compares the sources' values, and an erasure deletes the person's rows.
    A cycle reads the ``customer`` table, and this history only for the
    customers a load after its input snapshot changed
    (:func:`harmonia.store.history.changed_since`). A row repeating a record's values adds nothing, so the table
    grows with changes, not with loads.
    """

    __tablename__ = "customer_attribute_history"
    __table_args__ = ({"sqlite_with_rowid": False},)

    system: str = Field(primary_key=True)
    source_id: str = Field(primary_key=True)
    batch_id: int = Field(primary_key=True)
    first_name: str | None = None
    last_name: str | None = None
    specialty: str | None = None
    postal_code: str | None = None
    city: str | None = None
    territory: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None


class CustomerVersion(SQLModel, table=True):
    """Each state of a ``customer`` row that a later batch replaced, under the batch
    that gave it.

    The current state is the row itself: when a batch changes a row, the
    customers loader first appends the row as it was (country and type
    included), so the table grows with changes, not with loads, and a first
    load writes none. The row as of an input snapshot is the row when no
    later batch changed it, else its latest version in the snapshot's
    batches (:func:`harmonia.store.history.changed_since`): unlike the
    attribute history (per source record), this follows the row itself,
    whichever system changed it. An erasure blanks the person's versions as
    it blanks the row.
    """

    __tablename__ = "customer_version"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: int = Field(primary_key=True)
    batch_id: int = Field(primary_key=True)
    country: str = Field(max_length=2)
    type: str = Field(max_length=3)
    first_name: str | None = None
    last_name: str | None = None
    specialty: str | None = None
    postal_code: str | None = None
    city: str | None = None
    territory: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None


class Metric(SQLModel, table=True):
    """A number about a customer in a therapy area for a period.

    ``first_month``/``last_month`` are month ordinals of the period (see
    :mod:`harmonia.periods`) so every engine filters periods as integers. The
    key leads with (area, metric): a cycle reads one area's metrics, and a
    load appends them in key order. This table holds them on PostgreSQL; the
    embedded SQLite store keeps them in Parquet files per load batch and leaves
    it empty (:mod:`harmonia.store.facts`: read and write them through it).
    """

    __tablename__ = "metric"
    __table_args__ = ({"sqlite_with_rowid": False},)

    therapy_area: str = Field(primary_key=True)
    metric: str = Field(primary_key=True)
    customer_id: int = Field(primary_key=True)
    period: str = Field(primary_key=True)
    first_month: int
    last_month: int
    value: float
    batch_id: int


class Response(SQLModel, table=True):
    """One questionnaire response: who answered which version, when.

    This table and ``answer`` hold them on PostgreSQL; the embedded SQLite
    store keeps both in Parquet files per load batch and leaves them empty
    (:mod:`harmonia.store.facts`: read and write them through it).
    """

    __tablename__ = "response"
    __table_args__ = (
        UniqueConstraint(
            "customer_id",
            "questionnaire",
            "version",
            "respondent",
            "answered_at",
            name="uq_response",
        ),
        Index("ix_response_questionnaire", "questionnaire", "customer_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int
    questionnaire: str
    version: str
    respondent: str = ""
    answered_at: str = Field(description="ISO date or date-time, as given")
    batch_id: int


class Answer(SQLModel, table=True):
    """One answer of a response; a multiple-choice answer is one row per option."""

    __tablename__ = "answer"
    __table_args__ = ({"sqlite_with_rowid": False},)

    response_id: int = Field(primary_key=True)
    question: str = Field(primary_key=True)
    value: str = Field(primary_key=True)


class Quarantine(SQLModel, table=True):
    """A rejected row, kept whole with every reason it was rejected.

    ``fingerprint`` identifies the row's content, so loading the same bad
    file twice keeps one entry; ``resolved_batch_id`` is set when a later load
    of the same row succeeds.
    """

    __tablename__ = "quarantine"

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(unique=True)
    batch_id: int = Field(index=True)
    kind: str
    system: str = Field(description="the system whose ids the row used")
    location: str
    row_number: int | None = None
    record: str = Field(sa_column=Column(Text, nullable=False))
    reasons: str = Field(sa_column=Column(Text, nullable=False))
    resolved_batch_id: int | None = Field(default=None)


#: The keys under which a quarantine record keeps the text of a line that could not
#: be read: ``original_line``; entries kept before it had that name call it ``line``.
UNREADABLE_LINE_KEYS = ("original_line", "line")


def unreadable_line(record: dict[str, Any]) -> str | None:
    """The text of the unreadable line a quarantine record keeps (None: a read row)."""
    for key in UNREADABLE_LINE_KEYS:
        if record.get(key) is not None:
            return str(record[key])
    return None


class Cycle(SQLModel, table=True):
    """One segmentation cycle: one country x one therapy area x one period.

    ``snapshot`` holds the configuration the cycle ran with (country profile,
    rule set, questionnaires, strategies, pack versions) so a cycle can be
    reproduced and explained after the packs have moved on.
    """

    __tablename__ = "cycle"
    __table_args__ = (Index("ix_cycle_scope", "country", "therapy_area", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    country: str
    therapy_area: str
    period: str
    status: str = "running"
    engine: str
    rule_set: str
    rule_set_version: str
    previous_cycle_id: int | None = Field(default=None, foreign_key="cycle.id")
    customers: int = 0
    snapshot: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    summary: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    actor: str = ""
    started_at: dt.datetime = Field(default_factory=_now)
    finished_at: dt.datetime | None = None
    owner: str | None = Field(
        default=None, description="host:pid:start of the process running it, while it runs"
    )


class CycleInput(SQLModel, table=True):
    """A load batch a cycle read: together, the cycle's input snapshot.

    Facts are kept per batch and never changed in place (on the embedded
    store), so reading the same batches again reads the same facts.
    """

    __tablename__ = "cycle_input"
    __table_args__ = ({"sqlite_with_rowid": False},)

    cycle_id: int = Field(primary_key=True)
    batch_id: int = Field(primary_key=True)


class Assignment(SQLModel, table=True):
    """A customer's segmentation in a cycle, with the rules that fired and their inputs.

    ``segment`` is what the rules assigned; ``final_segment`` is what the
    cycle kept after pull-through (``origin`` says which).
    """

    __tablename__ = "assignment"

    cycle_id: int = Field(primary_key=True)
    customer_id: int = Field(primary_key=True)
    segment: str
    segment_rule: str
    needs: str | None = None
    needs_rule: str | None = None
    tier: str | None = None
    tier_rule: str | None = None
    final_segment: str
    origin: str = Field(description="rules | pulled-through | refined")
    #: The feature values and raw inputs the rules read, as JSON; NULL where the store
    #: keeps them in a file per cycle (see :mod:`harmonia.store.assignments`).
    inputs: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    #: The accepted requests that changed it on publishing, as JSON
    #: (``{"segment": 12, "tier": 15}``: dimension -> request id); None when none did.
    refined_by: str | None = None
    #: ``yes``/``no`` where an accepted request added the customer to the target
    #: list or removed it (else its segment's strategy decides).
    refined_target: str | None = None
    #: The face-to-face calls planned for the customer in the cycle's period where an
    #: accepted request changed them (else its final segment's strategy decides).
    refined_goal: int | None = None
    #: The territory an accepted request added the customer to or kept it on
    #: (else the alignment's).
    refined_territory: str | None = None


class StrategyPlan(SQLModel, table=True):
    """A call plan made within capacity over completed cycles (``harmonia strategy plan``).

    ``capacity`` holds the field force and budgets it was planned with, and
    ``pro_forma`` its pro forma (JSON), so actuals can be compared with it later.
    """

    __tablename__ = "strategy_plan"

    id: int | None = Field(default=None, primary_key=True)
    country: str
    period: str
    cycle_ids: str = Field(description="the cycles planned together, space-separated")
    method: str = Field(sa_column=Column(Text, nullable=False))
    capacity: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    pro_forma: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    actor: str = ""
    created_at: dt.datetime = Field(default_factory=_now)


class PlanGoal(SQLModel, table=True):
    """A customer's goals in a saved plan: contacts per channel, cost and revenue in cents."""

    __tablename__ = "plan_goal"
    __table_args__ = ({"sqlite_with_rowid": False},)

    plan_id: int = Field(primary_key=True)
    cycle_id: int = Field(primary_key=True)
    customer_id: int = Field(primary_key=True)
    face_to_face: int = 0
    remote: int = 0
    phone: int = 0
    email: int = 0
    event: int = 0
    web: int = 0
    sample: int = 0
    cost: int = Field(default=0, sa_type=BigInteger)
    revenue: int = Field(default=0, sa_type=BigInteger)


class AuditEvent(SQLModel, table=True):
    """Who did what, when: loads, cycles, publications, configuration."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=_now, index=True)
    actor: str
    action: str
    subject: str
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))


# --- master data: merges, the review queue, golden records, privacy -------------------


class CustomerRedirect(SQLModel, table=True):
    """A merged harmonia id and the customer it now is (always the final survivor).

    Kept flat (a merge into a merged customer re-points its redirects), so
    one lookup resolves any id; see :mod:`harmonia.store.identity`.
    """

    __tablename__ = "customer_redirect"

    merged_id: int = Field(primary_key=True)
    survivor_id: int = Field(index=True)
    merge_id: int


class CustomerMerge(SQLModel, table=True):
    """One merge: ``merged_id`` became ``survivor_id``. ``undo`` holds what an unmerge restores.

    ``undo`` (JSON) lists the crosswalk entries moved to the survivor and the
    redirects re-pointed; an unmerge puts each back and sets ``undone_at``.
    """

    __tablename__ = "customer_merge"

    id: int | None = Field(default=None, primary_key=True)
    survivor_id: int = Field(index=True)
    merged_id: int = Field(index=True)
    pair_id: int | None = None
    reason: str = ""
    undo: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    actor: str = ""
    at: dt.datetime = Field(default_factory=_now)
    undone_at: dt.datetime | None = None
    undone_by: str | None = None


class MatchPair(SQLModel, table=True):
    """Two customers a match found to be one person, with the evidence.

    ``status``: ``review`` (grey zone, a steward decides), ``accepted``,
    ``rejected`` (never proposed again), ``merged``. ``method``: ``identifier``
    (same national identifier) or ``probabilistic`` (splink).
    """

    __tablename__ = "match_pair"
    __table_args__ = (UniqueConstraint("left_id", "right_id", name="uq_match_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    left_id: int
    right_id: int
    country: str
    method: str
    probability: float
    evidence: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default="review", index=True)
    found_at: dt.datetime = Field(default_factory=_now)
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    merge_id: int | None = None


class GoldenValue(SQLModel, table=True):
    """A customer's best value of one attribute, and where it came from (source and batch)."""

    __tablename__ = "golden_value"
    __table_args__ = ({"sqlite_with_rowid": False},)

    customer_id: int = Field(primary_key=True)
    attribute: str = Field(primary_key=True)
    value: str | None = None
    system: str
    batch_id: int
    rule: str


class Objection(SQLModel, table=True):
    """A customer's objection to profiling (GDPR Art. 21): no segment, no output, anywhere."""

    __tablename__ = "objection"

    customer_id: int = Field(primary_key=True)
    source: str = Field(description="'command', or the system that reported it")
    actor: str = ""
    at: dt.datetime = Field(default_factory=_now)


class InputErasure(SQLModel, table=True):
    """A customer whose assignment rows are gone (objection) but whose inputs may still
    be in cycles' inputs files: written in the transaction that deletes the rows, removed
    once the files are rewritten without them (by that command, or the next one's
    recovery if it died first). See :mod:`harmonia.store.assignments`."""

    __tablename__ = "assignment_input_erasure"

    customer_id: int = Field(primary_key=True)


class Suppression(SQLModel, table=True):
    """An erased person's source id or national identifier, as a keyed hash (HMAC-SHA256
    under the workspace key): a reload that names it again is quarantined, not stored."""

    __tablename__ = "suppression"

    hash: str = Field(primary_key=True)
    kind: str = Field(description="source (system and source id) | identifier (scheme and value)")
    at: dt.datetime = Field(default_factory=_now)


class WorkspaceSecret(SQLModel, table=True):
    """What the workspace keeps of its secrets: the suppression key's fingerprint, never
    the key (a file outside the database, :mod:`harmonia.store.suppression`)."""

    __tablename__ = "workspace_secret"

    name: str = Field(primary_key=True)
    value: str


# --- field refinement: roster, alignment, requests, transitions ---------------------


class Territory(SQLModel, table=True):
    """A unit of the field force: a territory, its district, their region.

    ``parent`` is the unit above (a territory's district, a district's region).
    """

    __tablename__ = "territory"

    #: Codes are a country's own: ``T1`` of France is not ``T1`` of Belgium.
    code: str = Field(primary_key=True)
    country: str = Field(primary_key=True)
    name: str = ""
    level: str = Field(description="territory | district | region")
    parent: str | None = None
    batch_id: int


class RosterEntry(SQLModel, table=True):
    """A person of the field force: a rep on a territory, a manager of a district or region.

    ``manager`` is the person they report to; ``token_hash`` authenticates
    them on the web page (the SHA-256 of their token, never the token).
    """

    __tablename__ = "roster"

    person: str = Field(primary_key=True)
    country: str
    name: str = ""
    role: str = Field(description="rep | manager")
    unit: str = Field(index=True, description="the territory (rep) or district/region (manager)")
    manager: str | None = None
    email: str | None = None
    token_hash: str | None = None
    batch_id: int


class Alignment(SQLModel, table=True):
    """Which territory a customer belongs to in a period (month ordinals as metrics have)."""

    __tablename__ = "alignment"
    __table_args__ = ({"sqlite_with_rowid": False},)

    customer_id: int = Field(primary_key=True)
    period: str = Field(primary_key=True)
    first_month: int
    last_month: int
    territory: str
    batch_id: int


class Affiliation(SQLModel, table=True):
    """A customer's parent customer (a physician's hospital), as a source system knows it."""

    __tablename__ = "affiliation"
    __table_args__ = (
        Index("ix_affiliation_parent", "parent_id"),
        {"sqlite_with_rowid": False},
    )

    customer_id: int = Field(primary_key=True)
    parent_id: int = Field(primary_key=True)
    batch_id: int


class RefinementScope(SQLModel, table=True):
    """The frozen snapshot reps refine: each customer's territory when feedback opened,
    and the one it had before the cycle (where a ``keep`` request returns it)."""

    __tablename__ = "refinement_scope"
    __table_args__ = (
        Index("ix_refinement_scope_territory", "cycle_id", "territory"),
        {"sqlite_with_rowid": False},
    )

    cycle_id: int = Field(primary_key=True)
    customer_id: int = Field(primary_key=True)
    territory: str
    #: The alignment's territory of the latest period ending before the cycle's, else
    #: the customer record's, when feedback opened (NULL: frozen before 0730, closed).
    previous: str | None = None


#: The requests that hold a customer's dimension: at most one per cycle.
OPEN_REQUEST = "status IN ('pending', 'accepted')"


class RefinementRequest(SQLModel, table=True):
    """A change a rep (or manager) asked for, with its decision: old and new value kept.

    ``status`` is pending, accepted, rejected or expired; ``rule`` names what
    decided (a policy check, an auto rule, ``manager``, ``own change``) and
    ``message`` is what the rep is shown.
    """

    __tablename__ = "refinement_request"
    __table_args__ = (
        Index("ix_refinement_request_cycle", "cycle_id", "status"),
        # One open (pending or accepted) request per customer and dimension of a
        # cycle, whatever races the policy's duplicate check: the store refuses
        # the second of two submits that checked at the same time.
        Index(
            "ux_refinement_request_open",
            "cycle_id",
            "customer_id",
            "action",
            unique=True,
            sqlite_where=text(OPEN_REQUEST),
            postgresql_where=text(OPEN_REQUEST),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int
    customer_id: int = Field(index=True)
    territory: str
    requester: str
    action: str = Field(description="segment | needs | tier")
    old_value: str | None = None
    new_value: str | None = None
    reason: str
    comment: str = ""
    status: str = "pending"
    rule: str = ""
    message: str = ""
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    decision_comment: str = ""
    carried_from: int | None = None
    created_at: dt.datetime = Field(default_factory=_now)
    version: int = Field(default=1, description="bumped by each decision (optimistic lock)")


class CycleTransition(SQLModel, table=True):
    """A cycle's move from one lifecycle state to another: who, when, why."""

    __tablename__ = "cycle_transition"

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: int = Field(index=True)
    from_status: str
    to_status: str
    actor: str
    at: dt.datetime = Field(default_factory=_now)
    note: str = ""
