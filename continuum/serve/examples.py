"""The SQL console's examples: the queries of the README's "Field history in SQL".

Kept here (a wheel does not ship the README); ``tests/serve/test_sql.py`` checks each is
still in the README word for word, so the two cannot drift apart.
"""

EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "Mean temperature per tick of one run",
        """\
SELECT tick, avg(value) AS mean_temperature
FROM fields
WHERE field = 'atmosphere.temperature'
  AND run_id = (SELECT max(run_id) FROM runs WHERE world = 'terra' AND seed = 1)
GROUP BY tick
ORDER BY tick;
""",
    ),
    (
        "The same across every run of the world, per seed",
        """\
SELECT r.seed, f.tick, avg(f.value) AS mean_temperature
FROM fields AS f
JOIN runs AS r USING (run_id)
WHERE r.world = 'terra' AND f.field = 'atmosphere.temperature'
GROUP BY r.seed, f.tick
ORDER BY r.seed, f.tick;
""",
    ),
    (
        "History of the sample nearest to latitude 45, longitude 10, in every run",
        """\
WITH nearest AS (
  SELECT sample
  FROM fields_by_sample
  WHERE field = 'surface.elevation'
    AND tick = (SELECT min(tick) FROM fields WHERE field = 'surface.elevation')
  ORDER BY sin(radians(lat)) * sin(radians(45))
         + cos(radians(lat)) * cos(radians(45)) * cos(radians(lon - 10)) DESC
  LIMIT 1
)
SELECT run_id, tick, value
FROM fields_by_sample
WHERE field = 'surface.elevation' AND sample = (SELECT sample FROM nearest)
ORDER BY run_id, tick;
""",
    ),
    (
        "The first tick at which any cell is hotter than 300 K, per run",
        """\
SELECT r.run_id, r.seed, min(f.tick) AS first_tick
FROM fields AS f
JOIN runs AS r USING (run_id)
WHERE f.field = 'atmosphere.temperature' AND f.value > 300
GROUP BY r.run_id, r.seed
ORDER BY r.run_id;
""",
    ),
    (
        "Two runs compared cell by cell at tick 10, largest differences first",
        """\
SELECT a.sample, a.face, a.i, a.j, a.value AS seed_1, b.value AS seed_2,
       b.value - a.value AS diff
FROM fields AS a
JOIN fields AS b USING (field, tick, sample)
WHERE a.field = 'surface.elevation' AND a.tick = 10
  AND a.run_id = (SELECT max(run_id) FROM runs WHERE seed = 1)
  AND b.run_id = (SELECT max(run_id) FROM runs WHERE seed = 2)
ORDER BY abs(diff) DESC, a.sample
LIMIT 10;
""",
    ),
    (
        "Each field's mean over a run, with its units",
        """\
SELECT f.run_id, f.field, avg(f.value) AS mean, u.units,
       max(f.sim_time) AS last_sim_time, u.time_units
FROM fields AS f
JOIN field_units AS u USING (run_id, field)
WHERE f.field IN ('atmosphere.temperature', 'surface.elevation')
GROUP BY ALL
ORDER BY f.run_id, f.field;
""",
    ),
)
