terraform {
  required_version = ">= 1.11, < 2.0"
  # Its own state, apart from the log's: a witness is run by another party (terraform/witness/README.md).
  backend "gcs" {}
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 7.0"
    }
    external = {
      source  = "hashicorp/external"
      version = ">= 2.3, < 3.0"
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
