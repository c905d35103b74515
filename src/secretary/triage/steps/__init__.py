"""Pure pipeline stages: each takes values (a message's fields, a classification, a rule
outcome) and returns values. Services do the loading and the persisting around them."""
