"""Every write of 3D generation and try-on jobs: ``jobs`` (create, cancel, retry),
``steps`` (advancing a job on the queue), ``billing`` (price, ledger row, budget).

Life cycle (``MediaJob.status``)::

    queued --submit--> submitted --provider starts--> running --provider done--> (download) --> succeeded
      |                    |                             |
      +--------------------+-----------------------------+--> failed (provider refused or failed, deadline,
      |                                                            bad output, budget) / cancelled (API, admin)

Money: the list price (TRIPO_PRICE_USD_PER_TASK / FASHN_PRICE_USD_PER_RUN) is reserved
from the agent's daily budget (``platform`` for API jobs) before the paid submission and
settled when the job ends.
"""
