"""The inbox as the UI and API show it: triaged mail newest first with filters, whole
threads for the reader, and bulk actions (archive, mark read, label) applied through Gmail
and mirrored in the local store. Reads and label changes only; never sends or deletes."""
