{# The ledger's entry types grouped by what they mean, defined once (docs/ledger.md).
   The Python side (credits_warehouse/entry_types.py) is held equal to these
   by tests/unit/test_entry_types.py. #}

{# What a customer consumed in a period: usage however funded (from a grant, as overage, or
   unfunded), adjustments, and voids, which give back what they cancel. The statement, the
   daily balances and the invoices all count consumption so. #}
{% macro consumed_entry_types() -%}
    ('usage', 'overage', 'unfunded', 'adjustment', 'void')
{%- endmacro %}

{# Usage as debited, however funded: from a grant, as overage, or unfunded (no voids, no
   adjustments). Closed periods froze these per customer (restatements compare them). #}
{% macro usage_entry_types() -%}
    ('usage', 'overage', 'unfunded')
{%- endmacro %}

{# What a grant paid out: usage it funded, repayments of earlier shortfalls, adjustments,
   and voids, which put back what they cancel. #}
{% macro drawn_entry_types() -%}
    ('usage', 'repayment', 'adjustment', 'void')
{%- endmacro %}

{# What left a grant unspent at its end: expiry, or its move into a rollover grant. #}
{% macro expired_entry_types() -%}
    ('expiry', 'rollover')
{%- endmacro %}

{# What settled a period's shortfalls at its end: overage invoiced, or unfunded usage written off. #}
{% macro settled_entry_types() -%}
    ('overage_settlement', 'unfunded_writeoff')
{%- endmacro %}

{# What was taken out of a grant before its end by a decision, neither used nor expired: a
   refund of its purchase, or a void of the grant (contract §8.3). #}
{% macro withdrawn_entry_types() -%}
    ('refund', 'grant_void')
{%- endmacro %}
