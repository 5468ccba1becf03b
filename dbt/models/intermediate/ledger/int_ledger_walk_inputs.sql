-- The ledger walk's inputs, one tagged row each (`input_kind`), every kind in the same
-- columns: what `credits_warehouse/ledger_batches.walk_batches` reads, a customer at a time.
-- The walk step (int_ledger_walked) adds what a resuming build kept (checkpoints, earlier
-- spans) and keeps only the segments and positions of the open periods.
{{ config(materialized='view') }}
select {{ walk_input('grant', {
    'customer_id': 'customer_id', 'grant_id': 'grant_id', 'grant_kind': 'kind',
    'credits': 'credits', 'effective_at': 'effective_at', 'expires_at': 'expires_at',
    'priority': 'priority', 'cost_basis_per_credit': 'cost_basis_per_credit',
    'currency': 'currency', 'paid_amount': 'paid_amount', 'source_type': 'source_type',
    'source_id': 'source_id', 'applies_to': 'applies_to'}) }}
from {{ ref('int_grants_taking_effect') }}
-- A grant scheduled after the clock moves no balance yet (contract §8.2).
where not is_scheduled
union all
select {{ walk_input('segment', {
    'customer_id': 'customer_id', 'segment_start_at': 'segment_start_at',
    'eligibility_class': 'eligibility_class', 'run_seq': 'run_seq',
    'position_from': 'position_from', 'credits': 'credits',
    'first_booked_at': 'first_booked_at', 'last_booked_at': 'last_booked_at'}) }}
from {{ ref('int_usage_segments') }}
union all
select {{ walk_input('spell', {
    'customer_id': 'customer_id', 'started_at': 'started_at', 'ended_at': 'ended_at',
    'overage': 'overage', 'rollover_max_credits': 'rollover_max_credits',
    'rollover_expires_after_periods': 'rollover_expires_after_periods'}) }}
from {{ ref('int_plan_spells') }}
union all
select {{ walk_input('topup', {
    'customer_id': 'customer_id', 'enabled_from': 'enabled_from', 'enabled_to': 'enabled_to',
    'threshold_credits': 'threshold_credits', 'max_per_period': 'max_per_period',
    'bundle_credits': 'bundle_credits', 'expires_after_days': 'expires_after_days',
    'priority': 'priority', 'cost_basis_per_credit': 'cost_basis_per_credit',
    'currency': 'currency', 'price_amount': 'price_amount', 'applies_to': 'applies_to'}) }}
from {{ ref('int_auto_topups_priced') }}
union all
select {{ walk_input('void', {
    'customer_id': 'customer_id', 'voided_at': 'voided_at', 'event_id': 'event_id',
    'segment_start_at': 'segment_start_at', 'eligibility_class': 'eligibility_class',
    'position_before': 'position_before', 'position_after': 'position_after'}) }}
from {{ ref('int_voids_positioned') }}
union all
select {{ walk_input('refund', {
    'customer_id': 'customer_id', 'refunded_at': 'refunded_at', 'refund_id': 'refund_id',
    'grant_id': 'grant_id'}) }}
from {{ ref('int_refunds_validated') }}
where quarantine_reason is null
union all
-- The grant amendments SQL did not settle before the walk (int_grant_amendments_sequenced).
select {{ walk_input('amendment', {
    'customer_id': 'customer_id', 'grant_id': 'grant_id', 'effective_at': 'effective_at',
    'amendment_id': 'amendment_id', 'amendment_action': 'action',
    'new_expires_at': 'new_expires_at'}) }}
from {{ ref('int_grant_amendments_sequenced') }}
where settled_outcome is null
union all
-- Debit positions only for customers with an auto top-up: the walk looks for the debit
-- after which the balance falls below the threshold.
select {{ walk_input('position', {
    'customer_id': 'customer_id', 'segment_start_at': 'segment_start_at',
    'eligibility_class': 'eligibility_class', 'position_after': 'position_after',
    'booked_at': 'booked_at'}) }}
from {{ ref('int_usage_positioned') }}
where customer_id in (select customer_id from {{ ref('int_auto_topups_priced') }})
