"""Ask: questions and requests across mail, calendar and Drive.

Owns the pipeline question → intent → plan (a DAG of steps) → agents run concurrently over
the local index → a grounded, cited answer, plus conversations and proposed actions.
Retrieved content is untrusted data: it never adds steps or actions, and every action is a
proposal that waits for the user's approval. Must not call Google directly except through
the agents' quota-bucketed clients.
"""
