"""pandera models of the layers, kept apart from the transforms that produce them."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl


class RawEventRows(pa.DataFrameModel):
    """A landed event row: where it came from, when, and its payload kept whole."""

    load_batch_id: str = pa.Field(nullable=False)
    batch_seq: pl.Int32 = pa.Field(ge=1)
    source_file: str = pa.Field(nullable=False, str_length={"min_value": 1})
    line_number: int = pa.Field(ge=1)
    raw_payload: str = pa.Field(nullable=True)
    ingested_at: pl.Datetime = pa.Field(nullable=False)

    class Config:
        strict = True


class RatedEvents(pa.DataFrameModel):
    """fct_rated_events: one accepted billable event × aggregator, exact and non-negative."""

    event_id: str = pa.Field(nullable=False)
    dedup_key: str = pa.Field(nullable=False)
    customer_id: str = pa.Field(nullable=False)
    event_at: pl.Datetime = pa.Field(nullable=False)
    ingested_at: pl.Datetime = pa.Field(nullable=False)
    period: str = pa.Field(str_matches=r"^\d{4}-(0[1-9]|1[0-2])$")
    aggregator_id: str = pa.Field(nullable=False)
    credit_product_id: str = pa.Field(nullable=False)
    units: pl.Decimal(38, 6) = pa.Field(ge=0)
    credits_per_unit: pl.Decimal(38, 6) = pa.Field(ge=0)
    credits: pl.Decimal(38, 12) = pa.Field(ge=0)
    is_late: bool = pa.Field(nullable=False)
    booked_at: pl.Datetime = pa.Field(nullable=False)
    dimensions: str = pa.Field(nullable=True)

    class Config:
        strict = True

    @pa.dataframe_check
    def credits_are_units_times_rate(cls, data) -> pl.LazyFrame:
        """credits = units × credits_per_unit exactly: the rating rule of SPEC §4."""
        return data.lazyframe.select(
            pl.col("credits") == pl.col("units") * pl.col("credits_per_unit")
        )
