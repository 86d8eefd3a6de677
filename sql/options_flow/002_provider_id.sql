-- Live alerts carry the provider's own id (a UUID) and the id of the rule that fired. The
-- id becomes the alert's identity (the hash of option_chain, alert_rule and created_at stays
-- for alerts sent without one): two alerts sharing those three are two alerts. Until now both
-- ids sat in extra; an alert stored with one takes it as its id, and rule_id gets a column.
ALTER TABLE trading.options_flow_alerts ADD COLUMN rule_id text;

UPDATE trading.options_flow_alerts
SET rule_id = extra->>'rule_id', extra = extra - 'rule_id'
WHERE jsonb_typeof(extra->'rule_id') IN ('string', 'null');

WITH provider AS (  -- one row per provider id, and never onto an id another row holds
    SELECT DISTINCT ON (extra->>'id') id AS old_id, extra->>'id' AS new_id
    FROM trading.options_flow_alerts
    WHERE jsonb_typeof(extra->'id') = 'string' AND extra->>'id' <> ''
    ORDER BY extra->>'id', collected_at
)
UPDATE trading.options_flow_alerts a
SET id = p.new_id, extra = a.extra - 'id'
FROM provider p
WHERE a.id = p.old_id
  AND NOT EXISTS (SELECT 1 FROM trading.options_flow_alerts other WHERE other.id = p.new_id);
