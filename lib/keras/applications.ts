/**
 * `keras.applications`: the pre-trained networks of lib/applications, under Keras' names
 * (keras/src/applications/): `keras.applications.DenseNet121({ includeTop: false, pooling: 'max',
 * weights: 'imagenet', inputTensor, inputShape: [160, 160, 3] })`, and each family's
 * `preprocessInput` under Keras' module name, e.g. `keras.applications.resnet50.preprocessInput(x)`.
 * The builders are async: `await` them (they may load weight files).
 */
import * as applications from '../applications';

export { applications };
