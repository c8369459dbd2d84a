/**
 * The table of layer translators, by tfjs class name. Custom layers can add
 * theirs with {@link registerOnnxTranslator}.
 */
import { activationTranslators } from './activations';
import { augmentationTranslators } from './augmentation';
import { convolutionTranslators } from './convolution';
import { Translator } from './context';
import { coreTranslators } from './core';
import { mergeTranslators } from './merge';
import { normalizationTranslators } from './normalization';
import { paddingTranslators } from './padding';
import { poolingTranslators } from './pooling';
import { preprocessingTranslators } from './preprocessing';
import { resizingTranslators } from './resizing';

export type { Translator, TranslationContext, Weight } from './context';
export { Untranslatable, createContext } from './context';

const translators = new Map<string, Translator>(
  Object.entries({
    ...activationTranslators,
    ...augmentationTranslators,
    ...convolutionTranslators,
    ...coreTranslators,
    ...mergeTranslators,
    ...normalizationTranslators,
    ...paddingTranslators,
    ...poolingTranslators,
    ...preprocessingTranslators,
    ...resizingTranslators,
  }),
);

/** The translator for a tfjs layer class, if there is one. */
export function translatorFor(className: string): Translator | undefined {
  return translators.get(className);
}

/** Adds (or replaces) the ONNX translation of a layer class, e.g. a custom layer. */
export function registerOnnxTranslator(className: string, translator: Translator): void {
  translators.set(className, translator);
}

/** The layer classes that can be translated. */
export function translatableLayerClasses(): string[] {
  return [...translators.keys()].sort();
}
