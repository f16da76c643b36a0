//! Group work: callers submit one item each and wait; a few lanes each
//! take everything queued and run it as ONE statement, then answer every
//! caller. Under light load an item runs at once (a batch of one); under
//! heavy load batches grow, and the database does one statement where it
//! would have done hundreds. Nothing is cached: every item is answered by
//! a statement that started after the item was submitted.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use crate::StoreError;

type Item<K, V> = (K, oneshot::Sender<Result<V, StoreError>>);

pub(crate) struct Batcher<K, V> {
    lanes: Vec<mpsc::Sender<Item<K, V>>>,
}

impl<K, V> std::fmt::Debug for Batcher<K, V> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Batcher")
            .field("lanes", &self.lanes.len())
            .finish()
    }
}

impl<K, V> Clone for Batcher<K, V> {
    fn clone(&self) -> Self {
        Self {
            lanes: self.lanes.clone(),
        }
    }
}

impl<K: Send + 'static, V: Send + 'static> Batcher<K, V> {
    /// `run` gets a batch and answers each item, in order.
    pub(crate) fn start<F, Fut>(lanes: usize, max_batch: usize, run: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Result<V, StoreError>>, StoreError>> + Send,
    {
        let lanes = (0..lanes.max(1))
            .map(|_| {
                let (sender, mut receiver) = mpsc::channel::<Item<K, V>>(max_batch * 4);
                let run = run.clone();
                tokio::spawn(async move {
                    while let Some(first) = receiver.recv().await {
                        let mut items = vec![first];
                        while items.len() < max_batch {
                            match receiver.try_recv() {
                                Ok(item) => items.push(item),
                                Err(_) => break,
                            }
                        }
                        let (keys, answers): (Vec<K>, Vec<_>) = items.into_iter().unzip();
                        match run(keys).await {
                            Ok(results) => {
                                for (answer, result) in answers.into_iter().zip(results) {
                                    let _ = answer.send(result);
                                }
                            }
                            Err(error) => {
                                for answer in answers {
                                    let _ = answer.send(Err(error.duplicate()));
                                }
                            }
                        }
                    }
                });
                sender
            })
            .collect();
        Batcher { lanes }
    }

    /// Submits `key` on the lane `lane % lanes` and waits for its answer.
    pub(crate) async fn submit(&self, lane: u64, key: K) -> Result<V, StoreError> {
        let (answer, answered) = oneshot::channel();
        let lane = &self.lanes[(lane % self.lanes.len() as u64) as usize];
        lane.send((key, answer))
            .await
            .map_err(|_| StoreError::Unavailable("the batch worker stopped".to_owned()))?;
        answered
            .await
            .map_err(|_| StoreError::Unavailable("the batch worker stopped".to_owned()))?
    }
}
