{# Per load batch of `rows` (a relation or CTE with load_batch_id and ingested_at), the last
   period already closed when the batch was loaded: a row of the batch dated in that period or
   before lands in a closed period. Closed is judged at ingested_at, so the verdict never
   changes later (contract §4 "Late events", §8.3 grant amendments). A close at the clock of
   a load comes after that load (run, then close), hence strictly before. #}
{% macro closed_through_at_ingest(rows) -%}
    select
        batches.load_batch_id,
        max(closes.period) as closed_through_at_ingest
    from (select distinct load_batch_id, ingested_at from {{ rows }}) as batches
    inner join {{ ref('stg_control__period_closes') }} as closes on closes.closed_at < batches.ingested_at
    group by batches.load_batch_id
{%- endmacro %}
