-- Every pass looks for its collector's runs left 'running' by a pass that died (see
-- store.close_dead_runs): few rows, found without reading the collector's whole history.
CREATE INDEX runs_running ON vvv.runs (collector) WHERE status = 'running';
