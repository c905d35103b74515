"""Offline evaluation of the intelligence tiers on real, labelled third-party mail.

Owns the dataset loaders and their deterministic splits, the metrics and the eval service the
CLI calls. It reads ``shared/data`` only; it never trains on sets whose licence forbids it
(see ``datasets.LICENSES``) and never follows a link or opens an attachment in phishing mail.
"""
