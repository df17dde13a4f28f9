"""Pure data rules: STIX 2.1 helpers, TLP 2.0, grading scales. No I/O, no database."""
