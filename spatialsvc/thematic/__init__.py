"""The thematic layers: the geocoded registers, their aggregates, macro-economic indicators.

``themes`` says what is counted, ``compute`` counts it in SQL, ``suppress`` hides small counts
so that no subtraction gives them back, ``refresh`` writes the ``thematic`` tables, ``legend``
computes class breaks with mapclassify and the MapLibre styles.  No web framework here.
"""
