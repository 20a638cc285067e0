#!/usr/bin/env bash
# One command per environment, from an empty project:   terraform/deploy.sh dev
#
# Reads terraform/environments/<env>.tfvars (copy the .example next to it), makes sure the
# state bucket exists (gs://<project>-tfstate, or $TF_STATE_BUCKET), initialises Terraform with
# that bucket and the prefix auditlog/<env>, and applies. The plan itself builds the function
# bundles from the working tree. Extra arguments go to `terraform apply` (e.g. -auto-approve).
#
# Needs: gcloud (logged in, and `gcloud auth application-default login` for Terraform),
# terraform >= 1.11, python3 >= 3.11, and a project with billing enabled.
set -euo pipefail

environment=${1:?usage: terraform/deploy.sh dev|staging|prod [terraform apply arguments]}
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vars="$here/environments/$environment.tfvars"
if [[ ! -f "$vars" ]]; then
  echo "deploy: $vars is missing: copy $vars.example and fill it in" >&2
  exit 2
fi

value() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\\(.*\\)\".*/\\1/p" "$vars" | head -n 1; }
project=$(value project_id)
region=$(value region)
region=${region:-europe-west1}
if [[ -z "$project" || "$(value environment)" != "$environment" ]]; then
  echo "deploy: $vars must set project_id and environment = \"$environment\"" >&2
  exit 2
fi
bucket=${TF_STATE_BUCKET:-$project-tfstate}

# The state bucket: versioned, private, in the deployment's region. Created once; Terraform
# cannot keep its own state in a bucket it creates.
if ! gcloud storage buckets describe "gs://$bucket" --project="$project" >/dev/null 2>&1; then
  gcloud services enable storage.googleapis.com --project="$project"
  gcloud storage buckets create "gs://$bucket" --project="$project" --location="$region" \
    --uniform-bucket-level-access --public-access-prevention
  gcloud storage buckets update "gs://$bucket" --versioning
fi

terraform -chdir="$here" init -input=false -reconfigure \
  -backend-config="bucket=$bucket" \
  -backend-config=prefix=auditlog/$environment
terraform -chdir="$here" apply -input=false -var-file="$vars" "$@"
