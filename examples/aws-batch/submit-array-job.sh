#!/usr/bin/env bash
# Registers the job definition and submits one array job of SHARDS children; child i runs
# `bucketwright convert … --shards SHARDS` with AWS_BATCH_JOB_ARRAY_INDEX=i and converts the buckets of shard i.
#   QUEUE=my-fargate-queue SHARDS=8 ./submit-array-job.sh [s3://bustimes-data/] [s3://bustimes-data/v2/]
set -euo pipefail
cd "$(dirname "$0")"

QUEUE=${QUEUE:?set QUEUE to your AWS Batch job queue}
SHARDS=${SHARDS:-8}
SOURCE_URI=${1:-s3://bustimes-data/}
OUTPUT_URI=${2:-s3://bustimes-data/v2/}

# A plan first: buckets, objects, bytes and the S3 request cost of the whole run (nothing is written).
if command -v bucketwright >/dev/null; then
  bucketwright convert "$SOURCE_URI" "$OUTPUT_URI" --source bustimes --dry-run
fi

aws batch register-job-definition --cli-input-json file://job-definition.json >/dev/null

# An array job needs at least 2 children; with SHARDS=1 submit a plain job.
ARRAY=()
if [ "$SHARDS" -gt 1 ]; then ARRAY=(--array-properties "size=$SHARDS"); fi

aws batch submit-job \
  --job-name "bucketwright-convert-$(date -u +%Y%m%dT%H%M%S)" \
  --job-queue "$QUEUE" \
  --job-definition bucketwright-convert \
  "${ARRAY[@]}" \
  --parameters "source=$SOURCE_URI,output=$OUTPUT_URI,shards=$SHARDS" \
  --query 'jobId' --output text
