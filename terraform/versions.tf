terraform {
  # 1.11: write-only arguments (secret_data_wo) and ephemeral resources, so the generated cursor
  # and signing keys never reach the state.
  required_version = ">= 1.11, < 2.0"
  # State in GCS, one prefix per environment; deploy.sh passes bucket and prefix at init.
  backend "gcs" {}
  required_providers {
    # The lower bound is the version whose schema tests/unit/test_terraform_schema.py checks.
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 7.0"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.50, < 7.0"
    }
    external = {
      source  = "hashicorp/external"
      version = ">= 2.3, < 3.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.7, < 4.0"
    }
    time = {
      source  = "hashicorp/time"
      version = ">= 0.11, < 1.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}
