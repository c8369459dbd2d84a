/**
 * Registers the ONNX translations of the layers MobileNetV2 and EfficientNet need beyond tfjs'
 * own (lib/onnx/translators/preprocessing.ts: per-channel Rescaling, Normalization), so that the
 * ONNX executor (and the feature cache through it) runs these models whole. Imported by the
 * model files; registering twice is harmless.
 *
 * The 'Rescaling' translation replaces the scalar-only one with one that also takes a scale and
 * offset per channel (same operations for scalars).
 */
import { registerOnnxTranslator } from '../onnx/translators';
import { preprocessingTranslators } from '../onnx/translators/preprocessing';

for (const [className, translator] of Object.entries(preprocessingTranslators)) registerOnnxTranslator(className, translator);
