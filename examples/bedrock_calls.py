"""Amazon Bedrock ``invoke_model`` and ``converse`` with boto3, traced by the official
``opentelemetry-instrumentation-botocore`` and sent to Reconify by ``ReconifySpanExporter``.

botocore's spans hold the model id and the AWS request id, but it records the messages
only as GenAI **log events**: so the integration also registers the logs-side companion,
``ReconifyLogRecordProcessor``, on a ``LoggerProvider`` given to the instrumentation (with
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``). It joins each call's events
to its span. Two calls: Claude 3 through ``invoke_model`` and Llama through ``converse``.
Each becomes one Reconify interaction (``format: bedrock``, ``type: chat``) in Converse's
form: the request ``{modelId, messages, inferenceConfig, ...}`` and the response
``{requestId, body: {output: {message}, stopReason, usage}}``. Needs ``pip install boto3
opentelemetry-instrumentation-botocore``.

Run (offline, no AWS account): ``python examples/bedrock_calls.py``; to go live
(``BEDROCK_LIVE=1``, then boto3's own credentials and region) see examples/README.md.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3  # type: ignore[import-untyped]
import botocore.session  # type: ignore[import-untyped]
from _standins import report, standins
from botocore.config import Config  # type: ignore[import-untyped]
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from reconify_otel import ReconifyLogRecordProcessor, ReconifySpanExporter

# Offline, the calls are answered as recorded (src/reconify_otel/offline/recordings).
RECORDED = (
    "bedrock__test_anthropic__test_anthropic_3_completion_string_content",
    "bedrock__test_meta__test_meta_converse",
)
JOKE = "Tell me a joke about opentelemetry"
CLAUDE = "anthropic.claude-3-sonnet-20240229-v1:0"
LLAMA = "meta.llama3-2-1b-instruct-v1:0"


def bedrock_runtime(replay_url: str, fake_key: str) -> Any:
    """Live (both ""): boto3's default credentials, region and endpoint.

    Offline: the replay, with ``fake_key`` as credentials, from a botocore session that
    reads no AWS config or credentials file and no profile of this machine; one attempt
    per call.
    """
    if not replay_url:
        return boto3.client("bedrock-runtime")
    unread = {  # (config file name, environment variables, default, conversion)
        "profile": (None, None, None, None),
        "config_file": (None, None, os.devnull, None),
        "credentials_file": (None, None, os.devnull, None),
    }
    session = botocore.session.Session(session_vars=unread)
    session.set_config_variable("defaults_mode", "legacy")
    return boto3.session.Session(botocore_session=session).client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=replay_url,
        aws_access_key_id=fake_key,
        aws_secret_access_key=fake_key,
        aws_session_token=None,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            proxies={},
            use_fips_endpoint=False,
            use_dualstack_endpoint=False,
        ),
    )


def main() -> None:
    with standins(RECORDED, provider="bedrock") as (
        replay_url,
        fake_key,
        endpoint,
        app_key,
        api_key,
        sink,
    ):
        # The integration: an exporter on your tracer provider, its logs-side companion on
        # your logger provider, and the instrumentation given both (messages on).
        exporter = ReconifySpanExporter(endpoint, app_key, api_key)
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(exporter))
        logs = LoggerProvider()
        logs.add_log_record_processor(ReconifyLogRecordProcessor(exporter))
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
        instrumentor = BotocoreInstrumentor()  # type: ignore[no-untyped-call]
        instrumentor.instrument(tracer_provider=provider, logger_provider=logs)

        # The application, unchanged.
        client = bedrock_runtime(replay_url, fake_key)
        claude = client.invoke_model(
            modelId=CLAUDE,
            body=json.dumps(
                {
                    "messages": [{"role": "user", "content": JOKE}],
                    "max_tokens": 200,
                    "temperature": 0.5,
                    "anthropic_version": "bedrock-2023-05-31",
                }
            ),
        )
        claude_answer = json.loads(claude["body"].read())
        claude_text = claude_answer["content"][0]["text"]
        print(f"user: {JOKE}\nClaude: {claude_text}")
        llama = client.converse(
            modelId=LLAMA,
            messages=[{"role": "user", "content": [{"text": JOKE}]}],
            system=[{"text": "You are an app that knows about everything."}],
            inferenceConfig={"temperature": 0.5},
            additionalModelRequestFields={},
        )
        llama_text = llama["output"]["message"]["content"][0]["text"]
        print(f"user: {JOKE}\nLlama: {llama_text}")

        instrumentor.uninstrument()
        provider.shutdown()  # flushes: every call's payload was sent when this returns
        logs.shutdown()
        report(
            sink,
            2,
            "Bedrock calls",
            answer_ids=[c["ResponseMetadata"]["RequestId"] for c in (claude, llama)],
            answer_texts=[claude_text, llama_text],
            stop_reasons=[claude_answer["stop_reason"], llama["stopReason"]],
        )


if __name__ == "__main__":
    main()
