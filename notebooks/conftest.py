"""nbval re-executes the notebooks at the smoke profile: their kernels get the CPU pinning under which
the committed smoke outputs were written (:func:`freqlib.book.portable_cpu_env`), set here, before
pytest starts any kernel."""

import os

from freqlib.book import portable_cpu_env

os.environ.update(portable_cpu_env())
