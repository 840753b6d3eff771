WITH population AS (
  SELECT
    id AS customer_id,
    country,
    type,
    specialty,
    territory,
    postal_code,
    city
  FROM (
    SELECT
      kept.*
    FROM (
      SELECT
        c.id,
        c.country,
        c.type,
        COALESCE(golden.first_name, c.first_name) AS first_name,
        COALESCE(golden.last_name, c.last_name) AS last_name,
        COALESCE(golden.specialty, c.specialty) AS specialty,
        COALESCE(golden.postal_code, c.postal_code) AS postal_code,
        COALESCE(golden.city, c.city) AS city,
        COALESCE(golden.territory, c.territory) AS territory
      FROM customer AS c
      LEFT JOIN (
        SELECT
          g.customer_id,
          MAX(CASE WHEN g.attribute = 'first_name' THEN g.value END) AS first_name,
          MAX(CASE WHEN g.attribute = 'last_name' THEN g.value END) AS last_name,
          MAX(CASE WHEN g.attribute = 'specialty' THEN g.value END) AS specialty,
          MAX(CASE WHEN g.attribute = 'postal_code' THEN g.value END) AS postal_code,
          MAX(CASE WHEN g.attribute = 'city' THEN g.value END) AS city,
          MAX(CASE WHEN g.attribute = 'territory' THEN g.value END) AS territory
        FROM golden_value AS g
        GROUP BY
          g.customer_id
      ) AS golden
        ON golden.customer_id = c.id
      WHERE
        c.country = 'NL'
    ) AS kept
    LEFT JOIN (
      SELECT
        merged_id AS id
      FROM customer_redirect
      UNION ALL
      SELECT
        COALESCE(objecting.survivor_id, objection.customer_id) AS id
      FROM objection
      LEFT JOIN customer_redirect AS objecting
        ON objecting.merged_id = objection.customer_id
    ) AS unprofiled
      ON unprofiled.id = kept.id
    WHERE
      unprofiled.id IS NULL
  ) AS customer
), m_potential_latest_sum AS (
  SELECT
    customer_id,
    value
  FROM (
    SELECT
      customer_id,
      value,
      ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY last_month DESC, first_month ASC) AS rn
    FROM (
      SELECT
        CAST(fact.customer_id AS BIGINT) AS customer_id,
        fact.therapy_area,
        fact.metric,
        fact.period,
        fact.first_month,
        fact.last_month,
        fact.value
      FROM metric AS fact
      WHERE
        NOT EXISTS(
          SELECT
            1
          FROM customer_redirect AS redirect
          WHERE
            redirect.merged_id = fact.customer_id
        )
      UNION ALL
      SELECT
        CAST(redirect.survivor_id AS BIGINT) AS customer_id,
        fact.therapy_area,
        fact.metric,
        fact.period,
        fact.first_month,
        fact.last_month,
        fact.value
      FROM metric AS fact
      JOIN customer_redirect AS redirect
        ON redirect.merged_id = fact.customer_id
      WHERE
        NOT EXISTS(
          SELECT
            1
          FROM metric AS own
          WHERE
            own.customer_id = redirect.survivor_id
            AND own.therapy_area = fact.therapy_area
            AND own.metric = fact.metric
            AND own.period = fact.period
        )
    ) AS metric
    WHERE
      therapy_area = 'cardiology' AND metric = 'potential' AND last_month <= 24329
  ) AS ranked
  WHERE
    rn = 1
), q_potential_q AS (
  SELECT
    customer_id,
    CAST(1 + CASE WHEN (
      rnk - 1
    ) * 100 >= CAST(25.0 AS DOUBLE) * n THEN 1 ELSE 0 END + CASE WHEN (
      rnk - 1
    ) * 100 >= CAST(50.0 AS DOUBLE) * n THEN 1 ELSE 0 END + CASE WHEN (
      rnk - 1
    ) * 100 >= CAST(75.0 AS DOUBLE) * n THEN 1 ELSE 0 END AS BIGINT) AS bin
  FROM (
    SELECT
      p.customer_id,
      RANK() OVER (PARTITION BY p."specialty" ORDER BY m.value) AS rnk,
      COUNT(*) OVER (PARTITION BY p."specialty") AS n
    FROM population AS p
    JOIN m_potential_latest_sum AS m
      ON m.customer_id = p.customer_id
  ) AS ranked
), m_trx_cycle_sum AS (
  SELECT
    customer_id,
    SUM(value) AS value
  FROM (
    SELECT
      CAST(fact.customer_id AS BIGINT) AS customer_id,
      fact.therapy_area,
      fact.metric,
      fact.period,
      fact.first_month,
      fact.last_month,
      fact.value
    FROM metric AS fact
    WHERE
      NOT EXISTS(
        SELECT
          1
        FROM customer_redirect AS redirect
        WHERE
          redirect.merged_id = fact.customer_id
      )
    UNION ALL
    SELECT
      CAST(redirect.survivor_id AS BIGINT) AS customer_id,
      fact.therapy_area,
      fact.metric,
      fact.period,
      fact.first_month,
      fact.last_month,
      fact.value
    FROM metric AS fact
    JOIN customer_redirect AS redirect
      ON redirect.merged_id = fact.customer_id
    WHERE
      NOT EXISTS(
        SELECT
          1
        FROM metric AS own
        WHERE
          own.customer_id = redirect.survivor_id
          AND own.therapy_area = fact.therapy_area
          AND own.metric = fact.metric
          AND own.period = fact.period
      )
  ) AS metric
  WHERE
    therapy_area = 'cardiology'
    AND metric = 'trx'
    AND first_month >= 24324
    AND last_month <= 24329
  GROUP BY
    customer_id
), q_trx_q AS (
  SELECT
    customer_id,
    CAST(1 + CASE WHEN (
      rnk - 1
    ) * 100 >= CAST(50.0 AS DOUBLE) * n THEN 1 ELSE 0 END AS BIGINT) AS bin
  FROM (
    SELECT
      p.customer_id,
      RANK() OVER (PARTITION BY p."specialty" ORDER BY m.value) AS rnk,
      COUNT(*) OVER (PARTITION BY p."specialty") AS n
    FROM population AS p
    JOIN m_trx_cycle_sum AS m
      ON m.customer_id = p.customer_id
  ) AS ranked
), c_consistency AS (
  SELECT
    customer_id,
    CAST(COUNT(DISTINCT bucket) AS DOUBLE) / 4 AS share
  FROM (
    SELECT
      customer_id,
      CASE
        WHEN first_month >= 24318 AND last_month <= 24320
        THEN 0
        WHEN first_month >= 24321 AND last_month <= 24323
        THEN 1
        WHEN first_month >= 24324 AND last_month <= 24326
        THEN 2
        WHEN first_month >= 24327 AND last_month <= 24329
        THEN 3
      END AS bucket
    FROM (
      SELECT
        CAST(fact.customer_id AS BIGINT) AS customer_id,
        fact.therapy_area,
        fact.metric,
        fact.period,
        fact.first_month,
        fact.last_month,
        fact.value
      FROM metric AS fact
      WHERE
        NOT EXISTS(
          SELECT
            1
          FROM customer_redirect AS redirect
          WHERE
            redirect.merged_id = fact.customer_id
        )
      UNION ALL
      SELECT
        CAST(redirect.survivor_id AS BIGINT) AS customer_id,
        fact.therapy_area,
        fact.metric,
        fact.period,
        fact.first_month,
        fact.last_month,
        fact.value
      FROM metric AS fact
      JOIN customer_redirect AS redirect
        ON redirect.merged_id = fact.customer_id
      WHERE
        NOT EXISTS(
          SELECT
            1
          FROM metric AS own
          WHERE
            own.customer_id = redirect.survivor_id
            AND own.therapy_area = fact.therapy_area
            AND own.metric = fact.metric
            AND own.period = fact.period
        )
    ) AS metric
    WHERE
      therapy_area = 'cardiology'
      AND metric = 'calls'
      AND value > CAST(0.0 AS DOUBLE)
      AND first_month >= 24318
      AND last_month <= 24329
  ) AS active
  WHERE
    NOT bucket IS NULL
  GROUP BY
    customer_id
), s_tiny_profile_adoption_latest AS (
  SELECT
    customer_id,
    response_id,
    version
  FROM (
    SELECT
      r.customer_id,
      r.id AS response_id,
      r.version,
      ROW_NUMBER() OVER (PARTITION BY r.customer_id ORDER BY r.answered_at DESC, r.id DESC) AS rn
    FROM (
      SELECT
        CAST(fact.customer_id AS BIGINT) AS customer_id,
        fact.id,
        fact.questionnaire,
        fact.version,
        fact.respondent,
        fact.answered_at
      FROM response AS fact
      WHERE
        NOT EXISTS(
          SELECT
            1
          FROM customer_redirect AS redirect
          WHERE
            redirect.merged_id = fact.customer_id
        )
      UNION ALL
      SELECT
        CAST(redirect.survivor_id AS BIGINT) AS customer_id,
        fact.id,
        fact.questionnaire,
        fact.version,
        fact.respondent,
        fact.answered_at
      FROM response AS fact
      JOIN customer_redirect AS redirect
        ON redirect.merged_id = fact.customer_id
    ) AS r
    WHERE
      r.questionnaire = 'tiny-profile'
      AND r.answered_at >= '2025-01-01'
      AND r.answered_at < '2027-07-01'
  ) AS ranked
  WHERE
    rn = 1
), s_tiny_profile_adoption_scores AS (
  SELECT
    CAST(NULL AS VARCHAR) AS version,
    CAST(NULL AS VARCHAR) AS question,
    CAST(NULL AS VARCHAR) AS value,
    CAST(NULL AS DOUBLE) AS score
  UNION ALL
  SELECT
    '1',
    'usage',
    'none',
    CAST(0.0 AS DOUBLE)
  UNION ALL
  SELECT
    '1',
    'usage',
    'some',
    CAST(1.0 AS DOUBLE)
  UNION ALL
  SELECT
    '1',
    'usage',
    'lots',
    CAST(2.0 AS DOUBLE)
), s_tiny_profile_adoption_meta AS (
  SELECT
    CAST(NULL AS VARCHAR) AS version,
    CAST(NULL AS BIGINT) AS items,
    CAST(NULL AS VARCHAR) AS method,
    CAST(NULL AS VARCHAR) AS missing
  UNION ALL
  SELECT
    '1',
    CAST(1 AS BIGINT),
    'sum',
    'partial'
), s_tiny_profile_adoption_bands AS (
  SELECT
    CAST(NULL AS VARCHAR) AS version,
    CAST(NULL AS VARCHAR) AS level,
    CAST(NULL AS DOUBLE) AS low,
    CAST(NULL AS DOUBLE) AS high,
    CAST(NULL AS BIGINT) AS inclusive
  UNION ALL
  SELECT
    '1',
    'low',
    CAST(0.0 AS DOUBLE),
    CAST(0.0 AS DOUBLE),
    CAST(1 AS BIGINT)
  UNION ALL
  SELECT
    '1',
    'mid',
    CAST(1.0 AS DOUBLE),
    CAST(1.0 AS DOUBLE),
    CAST(1 AS BIGINT)
  UNION ALL
  SELECT
    '1',
    'high',
    CAST(2.0 AS DOUBLE),
    CAST(2.0 AS DOUBLE),
    CAST(1 AS BIGINT)
), s_tiny_profile_adoption_items AS (
  SELECT
    l.customer_id,
    l.version,
    s.question,
    SUM(CASE WHEN s.value IS NULL THEN CAST(a.value AS DOUBLE) ELSE s.score END) AS score
  FROM s_tiny_profile_adoption_latest AS l
  JOIN answer AS a
    ON a.response_id = l.response_id
  JOIN s_tiny_profile_adoption_scores AS s
    ON s.version = l.version
    AND s.question = a.question
    AND (
      s.value IS NULL OR s.value = a.value
    )
  GROUP BY
    l.customer_id,
    l.version,
    s.question
), s_tiny_profile_adoption_tally AS (
  SELECT
    customer_id,
    version,
    SUM(n) AS answered,
    SUM(total) AS total,
    MAX(top) AS top
  FROM (
    SELECT
      customer_id,
      version,
      1 AS n,
      score AS total,
      score AS top
    FROM s_tiny_profile_adoption_items
    UNION ALL
    SELECT
      l.customer_id,
      l.version,
      0,
      CAST(NULL AS DOUBLE),
      CAST(NULL AS DOUBLE)
    FROM s_tiny_profile_adoption_latest AS l
  ) AS parts
  GROUP BY
    customer_id,
    version
), s_tiny_profile_adoption_counts AS (
  SELECT
    t.*,
    0 AS disabled
  FROM s_tiny_profile_adoption_tally AS t
), s_tiny_profile_adoption_scored AS (
  SELECT
    c.customer_id,
    c.version,
    CASE WHEN m.version IS NULL THEN 0 ELSE 1 END AS comparable,
    CASE
      WHEN m.version IS NULL
      THEN NULL
      WHEN (
        m.items - c.disabled
      ) <= 0
      THEN NULL
      WHEN m.missing = 'unknown' AND c.answered < (
        m.items - c.disabled
      )
      THEN NULL
      WHEN m.missing = 'partial' AND c.answered = 0
      THEN NULL
      WHEN m.method = 'max'
      AND m.missing = 'zero'
      AND c.answered < (
        m.items - c.disabled
      )
      THEN CASE WHEN c.answered = 0 OR c.top < 0 THEN CAST(0 AS DOUBLE) ELSE c.top END
      WHEN m.method = 'max'
      THEN c.top
      WHEN m.method = 'mean' AND m.missing = 'zero'
      THEN CAST(COALESCE(c.total, CAST(0 AS DOUBLE)) AS DOUBLE) / (
        m.items - c.disabled
      )
      WHEN m.method = 'mean'
      THEN CAST(c.total AS DOUBLE) / c.answered
      ELSE COALESCE(c.total, CAST(0 AS DOUBLE))
    END AS score
  FROM s_tiny_profile_adoption_counts AS c
  LEFT JOIN s_tiny_profile_adoption_meta AS m
    ON m.version = c.version
), s_tiny_profile_adoption AS (
  SELECT
    s.customer_id,
    s.score,
    b.level,
    CASE
      WHEN s.comparable = 0
      THEN 'not_comparable'
      WHEN b.level IS NULL
      THEN 'incomplete'
      ELSE 'scored'
    END AS status
  FROM s_tiny_profile_adoption_scored AS s
  LEFT JOIN s_tiny_profile_adoption_bands AS b
    ON b.version = s.version
    AND s.score >= b.low - CAST(1e-09 AS DOUBLE)
    AND (
      b.high IS NULL
      OR (
        b.inclusive = 1 AND s.score <= b.high + CAST(1e-09 AS DOUBLE)
      )
      OR (
        b.inclusive = 0 AND s.score < b.high - CAST(1e-09 AS DOUBLE)
      )
    )
), stale_tiny_profile AS (
  SELECT DISTINCT
    customer_id
  FROM (
    SELECT
      CAST(fact.customer_id AS BIGINT) AS customer_id,
      fact.id,
      fact.questionnaire,
      fact.version,
      fact.respondent,
      fact.answered_at
    FROM response AS fact
    WHERE
      NOT EXISTS(
        SELECT
          1
        FROM customer_redirect AS redirect
        WHERE
          redirect.merged_id = fact.customer_id
      )
    UNION ALL
    SELECT
      CAST(redirect.survivor_id AS BIGINT) AS customer_id,
      fact.id,
      fact.questionnaire,
      fact.version,
      fact.respondent,
      fact.answered_at
    FROM response AS fact
    JOIN customer_redirect AS redirect
      ON redirect.merged_id = fact.customer_id
  ) AS response
  WHERE
    questionnaire = 'tiny-profile' AND answered_at < '2025-01-01'
), previous AS (
  SELECT
    previous_assignment.customer_id,
    previous_assignment.final_segment,
    (
      JSON_EXTRACT_SCALAR(previous_assignment.inputs, '$.specialty')
    ) AS "previous__specialty",
    (
      JSON_EXTRACT_SCALAR(previous_assignment.inputs, '$.potential')
    ) AS "previous__potential",
    (
      JSON_EXTRACT_SCALAR(previous_assignment.inputs, '$.potential_q')
    ) AS "previous__potential_q",
    (
      JSON_EXTRACT_SCALAR(previous_assignment.inputs, '$.trx_q')
    ) AS "previous__trx_q",
    (
      JSON_EXTRACT_SCALAR(previous_assignment.inputs, '$.consistency')
    ) AS "previous__consistency",
    (
      JSON_EXTRACT_SCALAR(previous_assignment.inputs, '$.adoption')
    ) AS "previous__adoption"
  FROM (
    SELECT
      CAST(a.customer_id AS BIGINT) AS customer_id,
      a.final_segment,
      a.inputs
    FROM assignment AS a
    WHERE
      a.cycle_id = 1
      AND NOT EXISTS(
        SELECT
          1
        FROM customer_redirect AS redirect
        WHERE
          redirect.merged_id = a.customer_id
      )
    UNION ALL
    SELECT
      customer_id,
      final_segment,
      inputs
    FROM (
      SELECT
        CAST(redirect.survivor_id AS BIGINT) AS customer_id,
        a.final_segment,
        a.inputs,
        ROW_NUMBER() OVER (PARTITION BY redirect.survivor_id ORDER BY a.customer_id) AS pick
      FROM assignment AS a
      JOIN customer_redirect AS redirect
        ON redirect.merged_id = a.customer_id
      WHERE
        a.cycle_id = 1
        AND NOT EXISTS(
          SELECT
            1
          FROM assignment AS own
          WHERE
            own.cycle_id = 1 AND own.customer_id = redirect.survivor_id
        )
    ) AS previous_merged
    WHERE
      pick = 1
  ) AS previous_assignment
), features AS (
  SELECT
    p.customer_id,
    CAST(p."specialty" AS VARCHAR) AS "specialty",
    CAST(m_potential_latest_sum.value AS DOUBLE) AS "potential",
    CAST(COALESCE(q_potential_q.bin, CAST(1 AS BIGINT)) AS BIGINT) AS "potential_q",
    CAST(q_trx_q.bin AS BIGINT) AS "trx_q",
    CAST(COALESCE(c_consistency.share, CAST(0.0 AS DOUBLE)) AS DOUBLE) AS "consistency",
    CAST(COALESCE(s_tiny_profile_adoption.level, 'unknown') AS VARCHAR) AS "adoption",
    CAST(CONCAT(
      CAST(CASE WHEN q_potential_q.bin IS NULL THEN ' potential_q' ELSE '' END AS VARCHAR),
      CAST(CASE WHEN c_consistency.share IS NULL THEN ' consistency' ELSE '' END AS VARCHAR),
      CAST(CASE WHEN s_tiny_profile_adoption.level IS NULL THEN ' adoption' ELSE '' END AS VARCHAR)
    ) AS VARCHAR) AS "(missing)",
    CASE
      WHEN NOT s_tiny_profile_adoption.status IS NULL
      THEN s_tiny_profile_adoption.status
      WHEN NOT stale_tiny_profile.customer_id IS NULL
      THEN 'stale_only'
      ELSE 'unanswered'
    END AS coverage__0
  FROM population AS p
  LEFT JOIN m_potential_latest_sum AS m_potential_latest_sum
    ON m_potential_latest_sum.customer_id = p.customer_id
  LEFT JOIN q_potential_q AS q_potential_q
    ON q_potential_q.customer_id = p.customer_id
  LEFT JOIN q_trx_q AS q_trx_q
    ON q_trx_q.customer_id = p.customer_id
  LEFT JOIN c_consistency AS c_consistency
    ON c_consistency.customer_id = p.customer_id
  LEFT JOIN s_tiny_profile_adoption AS s_tiny_profile_adoption
    ON s_tiny_profile_adoption.customer_id = p.customer_id
  LEFT JOIN stale_tiny_profile AS stale_tiny_profile
    ON stale_tiny_profile.customer_id = p.customer_id
), ruled AS (
  SELECT
    f.*,
    CASE
      WHEN "f"."specialty" = 'general_practice'
      THEN 'monitor'
      WHEN "f"."potential_q" = 4 AND "f"."adoption" = 'high'
      THEN 'champion'
      WHEN "f"."potential_q" >= 3
      THEN 'grow'
      WHEN "f"."potential_q" = 2 AND "f"."consistency" >= CAST(0.5 AS DOUBLE)
      THEN 'develop'
      ELSE 'maintain'
    END AS segment__segment,
    CASE
      WHEN "f"."specialty" = 'general_practice'
      THEN 'gp'
      WHEN "f"."potential_q" = 4 AND "f"."adoption" = 'high'
      THEN 'champion'
      WHEN "f"."potential_q" >= 3
      THEN 'grow'
      WHEN "f"."potential_q" = 2 AND "f"."consistency" >= CAST(0.5 AS DOUBLE)
      THEN 'develop'
      ELSE 'fallback'
    END AS segment__rule,
    CAST(NULL AS VARCHAR) AS needs__segment,
    CAST(NULL AS VARCHAR) AS needs__rule,
    CASE WHEN "f"."trx_q" = 2 THEN 'A' WHEN "f"."trx_q" IS NULL THEN 'C' ELSE 'B' END AS tier__segment,
    CASE
      WHEN "f"."trx_q" = 2
      THEN 'top_half'
      WHEN "f"."trx_q" IS NULL
      THEN 'no_trx'
      ELSE 'fallback'
    END AS tier__rule
  FROM features AS f
)
SELECT
  CAST(2 AS BIGINT) AS cycle_id,
  CAST(r.customer_id AS BIGINT) AS customer_id,
  r.segment__segment AS segment,
  r.segment__rule AS segment_rule,
  r.needs__segment AS needs,
  r.needs__rule AS needs_rule,
  r.tier__segment AS tier,
  r.tier__rule AS tier_rule,
  CASE
    WHEN NOT prev.customer_id IS NULL
    AND prev.final_segment IN ('champion', 'grow', 'develop', 'maintain', 'monitor')
    AND (
      (
        CAST(r."specialty" AS VARCHAR) IS NULL
        AND CAST(prev."previous__specialty" AS VARCHAR) IS NULL
      )
      OR CAST(r."specialty" AS VARCHAR) = CAST(prev."previous__specialty" AS VARCHAR)
    )
    AND (
      (
        CAST(r."potential" AS DOUBLE) IS NULL
        AND CAST(prev."previous__potential" AS DOUBLE) IS NULL
      )
      OR ABS(CAST(r."potential" AS DOUBLE) - CAST(prev."previous__potential" AS DOUBLE)) <= CAST(1e-09 AS DOUBLE) * ABS(CAST(prev."previous__potential" AS DOUBLE))
      OR ABS(CAST(r."potential" AS DOUBLE) - CAST(prev."previous__potential" AS DOUBLE)) <= CAST(0.1 AS DOUBLE) * ABS(CAST(prev."previous__potential" AS DOUBLE))
    )
    AND (
      (
        CAST(r."potential_q" AS VARCHAR) IS NULL
        AND CAST(prev."previous__potential_q" AS VARCHAR) IS NULL
      )
      OR CAST(r."potential_q" AS VARCHAR) = CAST(prev."previous__potential_q" AS VARCHAR)
    )
    AND (
      (
        CAST(r."trx_q" AS VARCHAR) IS NULL
        AND CAST(prev."previous__trx_q" AS VARCHAR) IS NULL
      )
      OR CAST(r."trx_q" AS VARCHAR) = CAST(prev."previous__trx_q" AS VARCHAR)
    )
    AND (
      (
        CAST(r."consistency" AS DOUBLE) IS NULL
        AND CAST(prev."previous__consistency" AS DOUBLE) IS NULL
      )
      OR ABS(CAST(r."consistency" AS DOUBLE) - CAST(prev."previous__consistency" AS DOUBLE)) <= CAST(1e-09 AS DOUBLE) * ABS(CAST(prev."previous__consistency" AS DOUBLE))
      OR ABS(CAST(r."consistency" AS DOUBLE) - CAST(prev."previous__consistency" AS DOUBLE)) <= CAST(0.1 AS DOUBLE) * ABS(CAST(prev."previous__consistency" AS DOUBLE))
    )
    AND (
      (
        CAST(r."adoption" AS VARCHAR) IS NULL
        AND CAST(prev."previous__adoption" AS VARCHAR) IS NULL
      )
      OR CAST(r."adoption" AS VARCHAR) = CAST(prev."previous__adoption" AS VARCHAR)
    )
    THEN prev.final_segment
    ELSE r.segment__segment
  END AS final_segment,
  CASE
    WHEN NOT prev.customer_id IS NULL
    AND prev.final_segment IN ('champion', 'grow', 'develop', 'maintain', 'monitor')
    AND (
      (
        CAST(r."specialty" AS VARCHAR) IS NULL
        AND CAST(prev."previous__specialty" AS VARCHAR) IS NULL
      )
      OR CAST(r."specialty" AS VARCHAR) = CAST(prev."previous__specialty" AS VARCHAR)
    )
    AND (
      (
        CAST(r."potential" AS DOUBLE) IS NULL
        AND CAST(prev."previous__potential" AS DOUBLE) IS NULL
      )
      OR ABS(CAST(r."potential" AS DOUBLE) - CAST(prev."previous__potential" AS DOUBLE)) <= CAST(1e-09 AS DOUBLE) * ABS(CAST(prev."previous__potential" AS DOUBLE))
      OR ABS(CAST(r."potential" AS DOUBLE) - CAST(prev."previous__potential" AS DOUBLE)) <= CAST(0.1 AS DOUBLE) * ABS(CAST(prev."previous__potential" AS DOUBLE))
    )
    AND (
      (
        CAST(r."potential_q" AS VARCHAR) IS NULL
        AND CAST(prev."previous__potential_q" AS VARCHAR) IS NULL
      )
      OR CAST(r."potential_q" AS VARCHAR) = CAST(prev."previous__potential_q" AS VARCHAR)
    )
    AND (
      (
        CAST(r."trx_q" AS VARCHAR) IS NULL
        AND CAST(prev."previous__trx_q" AS VARCHAR) IS NULL
      )
      OR CAST(r."trx_q" AS VARCHAR) = CAST(prev."previous__trx_q" AS VARCHAR)
    )
    AND (
      (
        CAST(r."consistency" AS DOUBLE) IS NULL
        AND CAST(prev."previous__consistency" AS DOUBLE) IS NULL
      )
      OR ABS(CAST(r."consistency" AS DOUBLE) - CAST(prev."previous__consistency" AS DOUBLE)) <= CAST(1e-09 AS DOUBLE) * ABS(CAST(prev."previous__consistency" AS DOUBLE))
      OR ABS(CAST(r."consistency" AS DOUBLE) - CAST(prev."previous__consistency" AS DOUBLE)) <= CAST(0.1 AS DOUBLE) * ABS(CAST(prev."previous__consistency" AS DOUBLE))
    )
    AND (
      (
        CAST(r."adoption" AS VARCHAR) IS NULL
        AND CAST(prev."previous__adoption" AS VARCHAR) IS NULL
      )
      OR CAST(r."adoption" AS VARCHAR) = CAST(prev."previous__adoption" AS VARCHAR)
    )
    THEN 'pulled-through'
    ELSE 'rules'
  END AS origin,
  CAST(JSON_OBJECT(
    'specialty': r."specialty",
    'potential': r."potential",
    'potential_q': r."potential_q",
    'trx_q': r."trx_q",
    'consistency': r."consistency",
    'adoption': r."adoption",
    '(missing)': r."(missing)"
  ) AS VARCHAR) AS inputs,
  r.coverage__0
FROM ruled AS r
LEFT JOIN previous AS prev
  ON prev.customer_id = r.customer_id
