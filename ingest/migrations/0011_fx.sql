-- Exchange rates (SPEC §11 Currencies): global market data, not a workspace's, kept here
-- because reports join them at query time (reports/fx.py): a conversion is converted at
-- the rate of its UTC day when the report runs, so a rate imported late converts the
-- conversions it held back, and nothing stored is rewritten.
--
-- Every import appends its rows with one `version`; the rates of a day are those of the
-- day's latest import (fx_rates_latest), so re-importing a day replaces it as a whole and
-- the history of imports stays readable. `rate` = units of `currency` per 1 `base`.

CREATE TABLE IF NOT EXISTS fx_rates
(
    day Date COMMENT 'UTC day the rate applies to: conversions accepted (ts) on that UTC day',
    currency LowCardinality(String) COMMENT 'Quoted currency (ISO 4217)',
    base LowCardinality(String) COMMENT 'Base currency of the import (ISO 4217); the same for every rate of one import',
    rate Decimal(38, 10) COMMENT 'Units of currency per 1 unit of base, > 0, exact to 10 places',
    version UInt64 COMMENT 'Import version (microseconds since the epoch, above any earlier import of the day): the latest import of a day wins',
    imported_by String COMMENT 'Who imported: cli, dev, or the API key id'
)
ENGINE = ReplacingMergeTree
ORDER BY (day, version, currency)
COMMENT 'Daily exchange rates, every import kept; read fx_rates_latest';

CREATE VIEW IF NOT EXISTS fx_rates_latest
(
    day Date COMMENT 'UTC day the rate applies to',
    currency LowCardinality(String) COMMENT 'Quoted currency (ISO 4217); the base itself appears with rate 1',
    base LowCardinality(String) COMMENT 'Base currency of the day''s latest import',
    rate Decimal(38, 10) COMMENT 'Units of currency per 1 unit of base'
)
AS SELECT day, currency, any(base) AS base, any(rate) AS rate
FROM
(
    SELECT day, currency, base, rate
    FROM fx_rates
    WHERE (day, version) IN (SELECT day, max(version) FROM fx_rates GROUP BY day)
    UNION ALL
    SELECT day, base AS currency, base, toDecimal128(1, 10) AS rate
    FROM fx_rates
    WHERE (day, version) IN (SELECT day, max(version) FROM fx_rates GROUP BY day)
)
GROUP BY day, currency;
