"""Google Cloud clients built from settings (emulator endpoints included), for ``runtime.py``."""

from __future__ import annotations

from google.cloud import bigquery, firestore

from auditlog.settings import Settings


def firestore_client(settings: Settings) -> firestore.Client:
    return firestore.Client(project=settings.gcp_project, database=settings.firestore_database)


def bigquery_client(settings: Settings) -> bigquery.Client:
    if settings.bigquery_endpoint:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=settings.gcp_project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=settings.bigquery_endpoint),
        )
    return bigquery.Client(project=settings.gcp_project)
