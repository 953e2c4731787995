"""Campaign sending: messages per second through the dispatcher to a loopback SMTP server.

Creates a fresh PostgreSQL database (``devskyy_bench_campaigns``), migrates it, makes N
consenting customers (each with a revenue order, so attribution has work to do) and a
scheduled two-variant email campaign (variants written directly: the copy path needs
an LLM and is not what is measured), then times ``campaigns_dispatch_due()`` in this
process with Django's SMTP backend against tests/support/smtp_server.py on loopback
(real SMTP dialogue per message), and ``campaign_results``. Prints what it measured;
exits 0.

    .venv/bin/python -m bench.campaign_send [--customers 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

from bench.common import BIN, PG_ADMIN_URL, PRODUCTION_ENV, REDIS_URL, ROOT, env_with, load_average

BENCH_DB = "devskyy_bench_campaigns"


def fresh_database() -> str:
    admin = PG_ADMIN_URL + "/postgres"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {BENCH_DB}"], capture_output=True, check=False)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {BENCH_DB}"], capture_output=True, check=True)
    return f"{PG_ADMIN_URL}/{BENCH_DB}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.support.smtp_server import SMTPServer

    database_url = fresh_database()
    env = env_with({**PRODUCTION_ENV, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL})
    subprocess.run([str(BIN / "python"), "manage.py", "migrate", "-v0", "--skip-checks"], cwd=ROOT, env=env, check=True)

    with SMTPServer() as smtp:
        os.environ.update({**env, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp.port)})
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devskyy.settings")
        import django

        django.setup()
        from django.utils import timezone

        from agents_app.marketing.models import Campaign, CampaignStatus, CampaignVariant
        from agents_app.marketing.selectors import campaign_results
        from agents_app.marketing.services import campaigns_dispatch_due
        from commerce_app.models import Customer, Order, OrderStatus

        now = timezone.now()
        customers = Customer.objects.bulk_create(
            [
                Customer(email=f"c{i:06d}@example.com", first_name=f"C{i}", accepts_marketing=True)
                for i in range(args.customers)
            ],
            batch_size=1000,
        )
        campaign = Campaign.objects.create(
            name="bench",
            campaign_type="email",
            status=CampaignStatus.SCHEDULED,
            target_audience={"accepts_marketing": True},
            audience_size=len(customers),
            content_template="Hi {first_name}",
            send_at=now - timedelta(seconds=1),
            agent_slug="marketing-002",
            ab_test={"variants": 2, "split": [50, 50]},
        )
        for label in "AB":
            CampaignVariant.objects.create(
                campaign=campaign,
                label=label,
                weight=50,
                subject=f"Subject {label}",
                email_body=f"Hi {{first_name}}, variant {label}.",
            )
        load_before = load_average()
        started = time.perf_counter()
        report = campaigns_dispatch_due()
        seconds = time.perf_counter() - started
        counts = report.reports[0].counts if report.reports else {}
        # One revenue order per customer an hour after the send, for attribution.
        later = timezone.now() + timedelta(hours=1)
        Order.objects.bulk_create(
            [
                Order(
                    number=f"B{i:07d}",
                    customer=c,
                    status=OrderStatus.COMPLETED,
                    subtotal=Decimal("10.00"),
                    total=Decimal("10.00"),
                    placed_at=later,
                )
                for i, c in enumerate(customers)
            ],
            batch_size=1000,
        )
        results_started = time.perf_counter()
        results = campaign_results(Campaign.objects.get(pk=campaign.pk))
        results_seconds = time.perf_counter() - results_started
        received = len(smtp.messages())

    print(f"campaign send, {platform.node()}, {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"load average before: {load_before}; after: {load_average()}")
    print(f"customers: {args.customers}; messages: {counts}; received by the SMTP server: {received}")
    print(f"dispatch (resolve, record, send each over SMTP): {seconds:.2f} s = {received / seconds:.0f} messages/s")
    print(f"campaign_results with {results['attributed_orders']} attributed orders: {results_seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
