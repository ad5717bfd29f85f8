"""unielu on a Dask cluster: two worker processes on this machine.

Run: python dask_cluster.py
"""

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import unielu

if __name__ == "__main__":  # the workers are processes of their own
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            values = np.random.default_rng(0).normal(size=(4000, 1000)).astype(np.float32)
            x = da.from_array(values, chunks=(1000, 1000))  # 4 chunks

            y = unielu.elu(x, alpha=1.0)  # lazy: one more task per chunk, nothing computed
            result = y.compute()  # each worker computes the chunks it holds

            same = np.array_equal(result, unielu.elu(values, alpha=1.0))
            print(
                f"{x.npartitions} chunks on {len(client.scheduler_info()['workers'])} workers,"
                f" equal to NumPy's: {same}"
            )
