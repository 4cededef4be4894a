"""Time TensorFlow/Keras training steps (forward, loss, backward, optimizer step) of one network as a
tf.function graph (no XLA: Keras's default on CPU); prints JSON."""
import numpy as np
import tensorflow as tf

import timing


def main():
    args = timing.parse_args(__doc__)
    if args.threads:  # must precede any TensorFlow work: the thread pools are created once
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras
    import keras_models
    keras.utils.set_random_seed(0)
    model = keras_models.build(args.network, args.seq_len)
    optimizer = keras_models.make_optimizer(args.network)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    inputs, labels = keras_models.sample_inputs(args.network, args.batch, args.seq_len, np.random.default_rng(0))
    inputs = [tf.constant(x) for x in inputs]
    labels = tf.constant(labels)

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(inputs, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def step():
        train_step().numpy()  # waits for the step's graph to finish

    times = timing.time_steps(step, args.warmup, args.steps)
    timing.emit(args, "tensorflow", tf.__version__, times,
                {"optimizer": keras_models.optimizer_name(args.network),
                 "optimizer_form": keras_models.OPTIMIZER_FORM, "keras": keras.__version__})


if __name__ == "__main__":
    main()
