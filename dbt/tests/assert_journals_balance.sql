-- Every journal balances: debits = credits (contract §6.1).
select journal_id, sum(debit) as debits, sum(credit) as credits
from {{ ref('fct_journal_entries') }}
group by journal_id
having sum(debit) <> sum(credit)
